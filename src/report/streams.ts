/**
 * A reader that closes our stdout or stderr early (`retag … | head`) is not a failure of the
 * run (design.md §6): writes to a closed pipe are dropped instead of throwing, so the run still
 * ends with its own exit code, and a command can ask whether anyone is still reading.
 */
const CLOSED = Symbol.for('retag.closedPipe');

type Guarded = NodeJS.WritableStream & { [CLOSED]?: boolean };

function isClosedPipeError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED' || code === 'ERR_STREAM_WRITE_AFTER_END';
}

/** Make `stream` drop writes once its reader has gone (EPIPE), instead of throwing or crashing. */
export function guardClosedPipe(stream: NodeJS.WritableStream): void {
  const s = stream as Guarded;
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  stream.on('error', (error: unknown) => {
    if (isClosedPipeError(error)) s[CLOSED] = true;
    else throw error;
  });
  (stream as { write: (...args: unknown[]) => boolean }).write = (...args: unknown[]) => {
    if (s[CLOSED]) return true;
    try {
      return write(...args);
    } catch (error) {
      if (!isClosedPipeError(error)) throw error;
      s[CLOSED] = true;
      return true;
    }
  };
}

/** Whether the reader of a guarded stream has gone away. */
export function readerGone(stream: NodeJS.WritableStream): boolean {
  return (stream as Guarded)[CLOSED] === true;
}

export { isClosedPipeError };
