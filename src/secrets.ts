/**
 * The one secret scrubber (design.md §5: the API key never appears in a log, report, error or
 * crash dump). Every writer of text a user may see or paste goes through it.
 */

/** What a secret is replaced with. */
export const REDACTED = '[REDACTED]';

/**
 * A function replacing every occurrence of each secret with `[REDACTED]`, in each form it can
 * take in text: raw, JSON-escaped (a key holding `"` or `\` inside a JSON line or body), and
 * URL-encoded. Secrets shorter than 4 characters are ignored (they would censor ordinary words);
 * longer forms are replaced first so a secret containing another one is censored whole.
 */
export function createScrubber(secrets: readonly (string | undefined)[]): (text: string) => string {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (typeof secret !== 'string' || secret.length < 4) continue;
    forms.add(secret);
    forms.add(JSON.stringify(secret).slice(1, -1));
    forms.add(encodeURIComponent(secret));
  }
  const ordered = [...forms].sort((a, b) => b.length - a.length);
  if (ordered.length === 0) return (text) => text;
  return (text) => {
    let out = text;
    for (const form of ordered) if (out.includes(form)) out = out.split(form).join(REDACTED);
    return out;
  };
}

/** Replace every occurrence of each secret in `text`. */
export function scrubSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  return createScrubber(secrets)(text);
}

const registered = new Set<string>();

/**
 * Remember a secret the process holds (the API key once loaded, from the environment, a key file
 * named on the command line or in a job file), so that crash output can be scrubbed of it too.
 */
export function registerSecret(secret: string | undefined): void {
  if (typeof secret === 'string' && secret.trim().length >= 4) {
    registered.add(secret);
    registered.add(secret.trim());
  }
}

export function registeredSecrets(): string[] {
  return [...registered];
}
