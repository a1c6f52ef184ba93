// Renders the body of an error page in the format the client asked for (spec §3). Placeholder
// until content negotiation lands: every client gets the plain `error code: NNNN` body.
import { errorBody } from './error-codes.ts';
import type { ErrorCodeNumber } from './error-codes.ts';

export interface ErrorPageContext {
  /** the request's Accept header */
  accept: string | undefined;
  /** the request id (Ray ID) also sent as `cf-ray` */
  rayId: string;
  /** the Host the client asked for (the zone) */
  host: string;
  timestamp: Date;
}

export interface ErrorPage {
  contentType: string;
  body: string;
}

export function renderErrorPage(code: ErrorCodeNumber, _ctx: ErrorPageContext): ErrorPage {
  return { contentType: 'text/plain; charset=UTF-8', body: errorBody(code) };
}
