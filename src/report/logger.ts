import { hostname } from 'node:os';
import { pino, type DestinationStream, type Logger } from 'pino';
import pinoPretty from 'pino-pretty';
import { writeAboveLiveLine } from './terminal.js';
import { createScrubber, REDACTED, scrubSecrets } from '../secrets.js';

export { createScrubber, REDACTED, scrubSecrets };

export const REDACT_PATHS = [
  'apiKey',
  '*.apiKey',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'req.headers.authorization',
];

export interface LoggerOptions {
  /** pino level name (default `info`). */
  level?: string;
  /** Write JSON lines to this file (created with its directories, appended to) instead of stderr. */
  logFile?: string;
  /** Human-readable lines (pino-pretty). Default: stderr is a terminal and there is no logFile. */
  pretty?: boolean;
  /** Literal secrets (the API key) that must never appear in a line, even inside a message or a stack. */
  redact: string[];
  /** Put on every line. */
  runId?: string;
  /** Where lines go instead of stderr/logFile (tests, embedding). Must accept whole lines. */
  destination?: DestinationStream;
}

export interface CreatedLogger {
  logger: Logger;
  /** Wait until every line written so far has reached its destination. */
  flush(): Promise<void>;
}

/**
 * The run's logger. Lines are written synchronously (fd 2 or the log file), so nothing logged
 * before the process exits is lost and no worker thread keeps the process alive. Pretty output is
 * pino-pretty's formatter applied line by line on the same synchronous destination, for the same
 * reasons. Secrets are censored twice: by key path (pino `redact`) and by value on the finished
 * line (`hooks.streamWrite`), which covers messages, error messages and stacks.
 */
export function createLogger(options: LoggerOptions): CreatedLogger {
  const { level = 'info', logFile, runId } = options;
  const pretty = options.pretty ?? (process.stderr.isTTY === true && logFile === undefined && !options.destination);
  const scrub = createScrubber(options.redact);

  const raw: DestinationStream & { flushSync?: () => void } =
    options.destination ??
    (logFile !== undefined
      ? pino.destination({ dest: logFile, sync: true, mkdir: true, append: true })
      : pino.destination({ fd: 2, sync: true }));
  // A log that cannot be written (disk full, stderr closed) must not stop or hang the run: the
  // first failed write stops logging (said once on stderr for a log file), and flush() then skips
  // sonic-boom's flushSync, which retries such a write forever.
  let broken = false;
  const sink: DestinationStream & { flushSync?: () => void } = {
    write(line: string) {
      if (broken) return;
      try {
        raw.write(line);
      } catch (error) {
        broken = true;
        if (logFile !== undefined) {
          try {
            process.stderr.write(`retag: cannot write the log file ${logFile} (${(error as NodeJS.ErrnoException).code ?? String(error)}): logging stopped, the run goes on\n`);
          } catch {
            /* stderr closed too */
          }
        }
      }
    },
    flushSync() {
      if (!broken && typeof raw.flushSync === 'function') raw.flushSync();
    },
  };
  (raw as unknown as { on?: (e: string, f: (err: unknown) => void) => void }).on?.('error', () => {
    broken = true;
  });

  let stream: DestinationStream = sink;
  if (pretty) {
    const format = pinoPretty.prettyFactory({
      colorize: logFile === undefined && !options.destination && process.stderr.isTTY === true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,runId',
      singleLine: true, // one line per event on a terminal, beside the progress bar
      // On a terminal every message says what it needs in words (the id, the status, the fix);
      // the structured fields are for machines (the JSON log): no JSON blobs between the lines,
      // and the final summary is not printed twice (the human summary follows it).
      hideObject: true,
      errorLikeObjectKeys: ['err', 'error'],
    });
    // A pretty log on the terminal shares it with the progress bar: write above the bar.
    // pino-pretty leaves the end of line off when it hides the object: one event, one line.
    const lineOf = (line: string) => {
      const text = format(line);
      return text.endsWith('\n') ? text : `${text}\n`;
    };
    stream = { write: (line: string) => writeAboveLiveLine(() => sink.write(lineOf(line))) };
  }

  const logger = pino(
    {
      level,
      base: { pid: process.pid, hostname: hostname(), ...(runId !== undefined ? { runId } : {}) },
      timestamp: pino.stdTimeFunctions.isoTime,
      errorKey: 'err',
      serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      hooks: { streamWrite: scrub },
    },
    stream,
  );

  return {
    logger,
    flush: () =>
      new Promise<void>((resolve) => {
        try {
          sink.flushSync?.();
        } catch {
          // Nothing buffered (sync destination) or the fd is closed: nothing left to flush.
        }
        resolve();
      }),
  };
}
