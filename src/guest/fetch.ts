// Global fetch(): the subrequest is described to the host, which performs it with undici and
// streams the answer back as a host-fed body.
import { BodyKind } from '../protocol/bridge.ts';
import type { SubrequestInit, SubrequestResult } from '../protocol/bridge.ts';
import { takeBodyForTransfer } from './body.ts';
import { headersToList } from './headers.ts';
import { getCurrentInvocationId, hostOp } from './host.ts';
import { Request } from './request.ts';
import { createIncomingResponse } from './response.ts';
import type { Response } from './response.ts';
import { hostFedStream, registerOutgoingStream } from './stream-bridge.ts';

const NULL_BODY_STATUS = new Set([101, 204, 205, 304]);

export async function fetch(input: unknown, init?: unknown): Promise<Response> {
  const request = new Request(input as never, init as never);
  const invId = getCurrentInvocationId();
  const r = request as unknown as { method: string; url: string; headers: unknown; redirect: string; signal?: { aborted: boolean; reason: unknown } };
  if (r.signal?.aborted) throw r.signal.reason;
  const body = takeBodyForTransfer(request);
  const message: SubrequestInit = {
    method: r.method,
    url: r.url,
    headers: headersToList(r.headers as never),
    bodyKind: body.kind === 'bytes' ? BodyKind.Bytes : body.kind === 'stream' ? BodyKind.Stream : BodyKind.None,
    body: body.kind === 'bytes' ? body.bytes : body.kind === 'stream' ? registerOutgoingStream(body.stream, invId) : null,
    redirect: r.redirect,
  };
  const result = await hostOp<SubrequestResult>('fetch', [message], invId);
  const stream = result.bodyStream && !NULL_BODY_STATUS.has(result.status) ? hostFedStream(result.bodyStream, invId) : null;
  // undici reports only the final URL; a redirected response's list needs two entries so that
  // `redirected` reads true.
  const urlList = result.redirected ? [r.url, result.url] : [result.url];
  return createIncomingResponse({ status: result.status, statusText: result.statusText, headersList: result.headers, body: stream, urlList });
}
