// The real `wrangler tail` sends its first frame ({"debug": …}) without a masking key (it asks its
// WebSocket library for `mask: false`), and Cloudflare's tail server accepts it. RFC 6455 wants
// every client frame masked, so `ws` closes such a connection with 1002 "MASK must be set".
// To speak with wrangler, the bytes from the client go through ClientFrameNormalizer before `ws`
// reads them: an unmasked frame gets the mask bit and an all-zero masking key, which leaves its
// payload as it is. Frames that are masked pass unchanged. `ws` does everything else.
import { Duplex } from 'node:stream';

/** Rewrites a client→server WebSocket byte stream so that every frame carries a masking key. */
export class ClientFrameNormalizer {
  #header: number[] = [];
  #headerLength = 2;
  #payloadLeft = 0;

  /** The bytes of `chunk`, rewritten; frames may span chunks. */
  push(chunk: Buffer): Buffer {
    const out: Buffer[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.#payloadLeft > 0) {
        const n = Math.min(this.#payloadLeft, chunk.length - i);
        out.push(chunk.subarray(i, i + n));
        i += n;
        this.#payloadLeft -= n;
        continue;
      }
      this.#header.push(chunk[i++]);
      if (this.#header.length === 2) {
        const length7 = this.#header[1] & 0x7f;
        const masked = (this.#header[1] & 0x80) !== 0;
        this.#headerLength = 2 + (length7 === 126 ? 2 : length7 === 127 ? 8 : 0) + (masked ? 4 : 0);
      }
      if (this.#header.length === this.#headerLength) out.push(this.#completeHeader());
    }
    return out.length === 1 ? out[0] : Buffer.concat(out);
  }

  #completeHeader(): Buffer {
    const header = Buffer.from(this.#header);
    this.#header = [];
    this.#headerLength = 2;
    const length7 = header[1] & 0x7f;
    // Lengths beyond 2^53 do not fit; ws refuses anything over its maxPayload long before that.
    this.#payloadLeft = length7 === 126 ? header.readUInt16BE(2) : length7 === 127 ? Number(header.readBigUInt64BE(2)) : length7;
    if ((header[1] & 0x80) !== 0) return header;
    header[1] |= 0x80;
    return Buffer.concat([header, Buffer.alloc(4)]);
  }
}

/**
 * The socket `ws` is given: reads come from `raw` through a ClientFrameNormalizer; writes (and
 * cork/uncork) go straight to `raw`, so sending costs what it costs on a plain socket.
 */
export class LenientClientSocket extends Duplex {
  readonly raw: Duplex;
  readonly #normalizer = new ClientFrameNormalizer();

  constructor(raw: Duplex, head: Buffer) {
    super({ allowHalfOpen: true });
    this.raw = raw;
    this.write = raw.write.bind(raw) as Duplex['write'];
    this.cork = () => raw.cork();
    this.uncork = () => raw.uncork();
    if (head.length > 0) this.push(this.#normalizer.push(head));
    raw.on('data', (chunk: Buffer) => {
      const bytes = this.#normalizer.push(chunk);
      if (bytes.length > 0 && !this.push(bytes)) raw.pause();
    });
    raw.on('end', () => this.push(null));
    raw.on('error', (error) => this.destroy(error));
    raw.on('close', () => this.destroy());
  }

  override _read(): void {
    this.raw.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.raw.write(chunk, done);
  }

  override _final(done: (error?: Error | null) => void): void {
    this.raw.end(done);
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.raw.destroy();
    done(error);
  }
}
