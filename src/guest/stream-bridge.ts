// Bodies that cross the bridge as streams. Host-fed streams (the incoming request body, a
// subrequest's response body) are pulled chunk by chunk with a host 'read' op; guest-produced
// streams (a response body the worker streams) are pulled by the host with HostEvent.Pull, so a
// slow client slows only the producer, never buffers the whole body.
import { ReadableStream } from 'web-streams-polyfill';
import { GuestMessage, HostEvent } from '../protocol/bridge.ts';
import { hostOp, onEvent, sendToHost, setCurrentInvocationId } from './host.ts';
import { utf8Encode } from './encoding.ts';
import { markInternalStream } from './internal-streams.ts';

/**
 * A body the host feeds (the incoming request's, a subrequest's response): an internal stream,
 * I/O of invocation `invId`, read with that invocation's host operations.
 */
export function hostFedStream(streamId: number, invId: number): ReadableStream<Uint8Array> {
  const stream = new ReadableStream<Uint8Array>({
    type: 'bytes',
    async pull(controller) {
      const chunk = await hostOp<Uint8Array | null>('read', [streamId], invId);
      if (chunk === null) {
        controller.close();
        // A BYOB request left pending after close must be answered with zero bytes.
        controller.byobRequest?.respond(0);
      } else if (chunk.byteLength > 0) {
        controller.enqueue(chunk);
      }
    },
    cancel() {
      sendToHost(GuestMessage.CancelHostStream, streamId);
    },
  });
  markInternalStream(stream, invId, null);
  return stream;
}

interface Outgoing { reader: ReadableStreamDefaultReaderLike; invId: number; onEnd?: () => void }
interface ReadableStreamDefaultReaderLike {
  read(): Promise<{ done: boolean; value?: unknown }>;
  cancel(reason?: unknown): Promise<void>;
}
const outgoing = new Map<number, Outgoing>();
let nextStreamId = 1;

/** Registers a guest stream for the host to pull; returns the id the host pulls it by. */
export function registerOutgoingStream(stream: ReadableStream<unknown>, invId: number, onEnd?: () => void): number {
  const id = nextStreamId++;
  outgoing.set(id, { reader: stream.getReader() as unknown as ReadableStreamDefaultReaderLike, invId, onEnd });
  return id;
}

/** Forgets a stream (it ended, failed or was cancelled) and tells its owner. */
function release(streamId: number): void {
  const entry = outgoing.get(streamId);
  if (!entry) return;
  outgoing.delete(streamId);
  entry.onEnd?.();
}

function toBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (typeof value === 'string') return utf8Encode(value);
  throw new TypeError('This ReadableStream did not return bytes.');
}

onEvent(HostEvent.Pull, (streamId) => {
  const entry = outgoing.get(streamId as number);
  if (!entry) return;
  setCurrentInvocationId(entry.invId);
  entry.reader.read().then(
    ({ done, value }) => {
      if (done) {
        sendToHost(GuestMessage.Chunk, streamId, null);
        release(streamId as number);
        return;
      }
      let bytes: Uint8Array;
      try {
        bytes = toBytes(value);
      } catch (error) {
        entry.reader.cancel(error).catch(() => {});
        sendToHost(GuestMessage.Chunk, streamId, null, errorText(error));
        release(streamId as number);
        return;
      }
      sendToHost(GuestMessage.Chunk, streamId, bytes);
    },
    (error) => {
      sendToHost(GuestMessage.Chunk, streamId, null, errorText(error));
      release(streamId as number);
    },
  );
});

onEvent(HostEvent.CancelStream, (streamId, reason) => {
  const entry = outgoing.get(streamId as number);
  if (!entry) return;
  setCurrentInvocationId(entry.invId);
  entry.reader.cancel(reason).catch(() => {});
  release(streamId as number);
});

function errorText(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

export function outgoingStreamsOf(invId: number): number {
  let n = 0;
  for (const s of outgoing.values()) if (s.invId === invId) n++;
  return n;
}
