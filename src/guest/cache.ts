// The Cache API as Cloudflare gives it on workers.dev (no zone in front of the worker): every
// operation succeeds and nothing is stored, so match() always misses. A real cache belongs to
// the platform server; code written against `caches.default` runs unchanged meanwhile.
import { Request } from './request.ts';
import { Response } from './response.ts';

function checkRequest(request: unknown): void {
  if (!(request instanceof Request) && typeof request !== 'string' && !(request && typeof request === 'object' && 'href' in request)) {
    throw new TypeError("Failed to execute 'put' on 'Cache': parameter 1 is not of type 'Request'.");
  }
}

export class Cache {
  async match(request: unknown, _options?: unknown): Promise<Response | undefined> {
    checkRequest(request);
    return undefined;
  }

  async put(request: unknown, response: unknown): Promise<void> {
    checkRequest(request);
    if (!(response instanceof Response)) {
      throw new TypeError("Failed to execute 'put' on 'Cache': parameter 2 is not of type 'Response'.");
    }
    // Consume the body as a real put would, so the caller's response cannot be read twice.
    await response.arrayBuffer();
  }

  async delete(request: unknown, _options?: unknown): Promise<boolean> {
    checkRequest(request);
    return false;
  }
}

export class CacheStorage {
  readonly default = new Cache();
  async open(_name: string): Promise<Cache> {
    return new Cache();
  }
}
