// Reads an API request's body as JSON, whatever its content type (wrangler sends its JSON as
// text/plain), within a size limit. Each endpoint words the errors for its own envelope.
import type { IncomingMessage } from 'node:http';

export const MAX_JSON_BODY_BYTES = 1024 * 1024;

export class JsonBodyError extends Error {
  /** the body was over the limit (413) rather than malformed (400) */
  readonly tooLarge: boolean;
  constructor(message: string, tooLarge: boolean) {
    super(message);
    this.name = 'JsonBodyError';
    this.tooLarge = tooLarge;
  }
}

/**
 * The parsed body, or undefined when it is empty. Over `maxBytes` it fails at once (the caller can
 * answer 413 straight away); malformed JSON names the parser's complaint.
 */
export function readJsonBody(req: IncomingMessage, maxBytes = MAX_JSON_BODY_BYTES): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        // The rest is read and thrown away, so the connection stays usable for the next request.
        req.off('data', onData);
        req.resume();
        chunks.length = 0;
        reject(new JsonBodyError(`the request body is larger than ${maxBytes} bytes`, true));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('error', reject);
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (text === '') { resolve(undefined); return; }
      try {
        resolve(JSON.parse(text));
      } catch (error) {
        reject(new JsonBodyError(`the request body is not valid JSON: ${(error as Error).message}`, false));
      }
    });
  });
}
