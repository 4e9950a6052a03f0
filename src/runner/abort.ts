export type AbortKind = 'unauthorized' | 'budget' | 'max_changes' | 'unreachable' | 'list_shape' | 'comma_tags' | 'journal' | 'signal' | 'stopped';

/** A run-wide stop (exit 3, or 130/143 for a signal): the key was rejected, the budget spent… */
export class RunAbort extends Error {
  override name = 'RunAbort';
  constructor(
    readonly kind: AbortKind,
    message: string,
  ) {
    super(message);
  }
}
