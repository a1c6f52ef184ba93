// The error pages the edge answers with: one table holding every fact about each code (spec §3).
// The renderers in error-page.ts only lay these facts out; wording changes happen here.
//
// Texts are plain sentences: no `<`, `>`, `&`, backticks, `*` or brackets, so they read the same
// in HTML, Markdown and JSON without escaping (a unit test holds them to it). The one dynamic
// part, the site's host, comes from the client and is escaped per format by the renderer, which
// passes it to `whatHappened` already formatted.

export type ErrorCategory =
  /** the Worker's own code failed */
  | 'script_error'
  /** the Worker ran past its CPU or memory limit */
  | 'resource_limit'
  /** the Worker's request limits refused the request before it ran */
  | 'rate_limit'
  /** the operator turned the Worker off */
  | 'access'
  /** no Worker matched the request */
  | 'routing'
  /** a subrequest the platform does not allow (loops, forbidden destinations) */
  | 'subrequest';

export interface ErrorCode {
  code: number;
  status: number;
  /** one line, shown as the page's heading and RFC 9457 `title` */
  title: string;
  /** stable snake_case identifier for programs (`error_name`) */
  name: string;
  category: ErrorCategory;
  /** what went wrong, given the site already formatted for the output */
  whatHappened: (site: string) => string;
  /** what the site's visitor can do about it */
  visitorAction: string;
  /** what the Worker's owner can do about it */
  ownerAction: string;
  /** documentation of the code (RFC 9457 `type`) */
  docs: string;
  /** the same request may succeed later without anyone changing anything */
  retryable: boolean;
  /** only the Worker's owner (or the operator) can make the error go away */
  ownerActionRequired: boolean;
}

const SUPPORT_DOCS = 'https://developers.cloudflare.com/support/troubleshooting/http-status-codes/cloudflare-1xxx-errors';
/** Codes without a page of their own are explained in the Workers error table. */
const WORKERS_ERROR_TABLE = 'https://developers.cloudflare.com/workers/observability/errors/#error-pages-generated-by-workers';

const NOTHING_TO_RETRY = 'Trying again will not help until the site owner fixes this.';

export const ERROR_CODES = {
  1101: {
    code: 1101,
    status: 500,
    title: 'Worker threw exception',
    name: 'worker_threw_exception',
    category: 'script_error',
    whatHappened: (site) => `The Worker serving ${site} threw a JavaScript exception before it produced a response, so there was no page to send.`,
    visitorAction: NOTHING_TO_RETRY,
    ownerAction: "Find this Ray ID in the Worker's logs or a live tail to see the exception and its stack, fix the code and deploy it again.",
    docs: `${SUPPORT_DOCS}/error-1101/`,
    retryable: false,
    ownerActionRequired: true,
  },
  1102: {
    code: 1102,
    status: 503,
    title: 'Worker exceeded resource limits',
    name: 'worker_exceeded_resources',
    category: 'resource_limit',
    whatHappened: (site) => `The Worker serving ${site} used more CPU time or memory than its limits allow, so the request was stopped.`,
    visitorAction: 'Try again in a moment. If it keeps happening, let the site owner know.',
    ownerAction: "Profile the Worker to find the expensive work, stream large bodies instead of buffering them, or raise the Worker's CPU limit (limits.cpu_ms).",
    docs: `${SUPPORT_DOCS}/error-1102/`,
    retryable: true,
    ownerActionRequired: true,
  },
  1103: {
    code: 1103,
    status: 403,
    title: 'Worker disabled',
    name: 'worker_disabled',
    category: 'access',
    whatHappened: (site) => `The Worker serving ${site} has been disabled by the operator of this platform, so it does not run.`,
    visitorAction: NOTHING_TO_RETRY,
    ownerAction: 'Ask the platform operator why the Worker was disabled and have it enabled again.',
    docs: WORKERS_ERROR_TABLE,
    retryable: false,
    ownerActionRequired: true,
  },
  1015: {
    code: 1015,
    status: 429,
    title: 'You are being rate limited',
    name: 'worker_exceeded_burst_rate',
    category: 'rate_limit',
    whatHappened: (site) => `The Worker serving ${site} received more requests in the last minute than its burst limit allows, so this one was refused.`,
    visitorAction: 'Wait a minute, then try again.',
    ownerAction: 'Raise the burst limit of this Worker or spread the traffic out. Refused requests do not count against the limit.',
    docs: `${SUPPORT_DOCS}/error-1015/`,
    retryable: true,
    ownerActionRequired: false,
  },
  1019: {
    code: 1019,
    status: 508,
    title: 'Worker hit loop limit',
    name: 'worker_exceeded_loop_limit',
    category: 'subrequest',
    whatHappened: (site) => `A request to ${site} went through 16 Worker invocations in a row, the loop limit, so the chain was stopped.`,
    visitorAction: NOTHING_TO_RETRY,
    ownerAction: 'Look for a Worker that fetches its own URL, or Workers that call each other in a circle, and break the loop.',
    docs: `${SUPPORT_DOCS}/error-1019/`,
    retryable: false,
    ownerActionRequired: true,
  },
  1021: {
    code: 1021,
    status: 403,
    title: 'Worker requested a host it cannot access',
    name: 'worker_requested_inaccessible_host',
    category: 'subrequest',
    whatHappened: (site) => `The Worker serving ${site} tried to fetch a host it is not allowed to reach.`,
    visitorAction: NOTHING_TO_RETRY,
    ownerAction: 'Change the subrequest so that it goes to a host this Worker may access.',
    docs: WORKERS_ERROR_TABLE,
    retryable: false,
    ownerActionRequired: true,
  },
  1022: {
    code: 1022,
    status: 404,
    title: 'No Worker for this host or route',
    name: 'worker_not_found',
    category: 'routing',
    whatHappened: (site) => `No Worker is set up for ${site}, so the request could not be routed to one.`,
    visitorAction: 'Check the address. If it is right, the site is not set up yet.',
    ownerAction: 'Make sure the host or route matches a Worker that is running, for example NAME.localhost with flarelet dev.',
    docs: WORKERS_ERROR_TABLE,
    retryable: false,
    ownerActionRequired: true,
  },
  1024: {
    code: 1024,
    status: 403,
    title: 'Worker cannot make a subrequest to the platform itself',
    name: 'worker_fetched_platform_address',
    category: 'subrequest',
    whatHappened: (site) => `The Worker serving ${site} tried to fetch an address that belongs to this platform, which Workers may not call.`,
    visitorAction: NOTHING_TO_RETRY,
    ownerAction: "Send the subrequest to a public host instead of the platform's own address.",
    docs: WORKERS_ERROR_TABLE,
    retryable: false,
    ownerActionRequired: true,
  },
  1027: {
    code: 1027,
    status: 429,
    title: 'Worker exceeded daily request limit',
    name: 'worker_exceeded_daily_requests',
    category: 'rate_limit',
    whatHappened: (site) => `The Worker serving ${site} has used up its requests for today, so it is paused until the count resets at midnight UTC.`,
    visitorAction: 'Try again after midnight UTC.',
    ownerAction: 'Raise or remove the daily request limit of this Worker. The count starts again at 00:00 UTC.',
    docs: 'https://developers.cloudflare.com/workers/platform/limits/#daily-request',
    retryable: true,
    ownerActionRequired: false,
  },
  1042: {
    code: 1042,
    status: 500,
    title: 'Worker tried to fetch another Worker on the same zone',
    name: 'worker_fetched_same_zone_worker',
    category: 'subrequest',
    whatHappened: (site) => `The Worker serving ${site} tried to fetch another Worker on the same zone with a plain fetch, which is not supported.`,
    visitorAction: NOTHING_TO_RETRY,
    ownerAction: 'Call the other Worker through a service binding, or send the request to a different zone.',
    docs: WORKERS_ERROR_TABLE,
    retryable: false,
    ownerActionRequired: true,
  },
} as const satisfies Record<number, ErrorCode>;

export type ErrorCodeNumber = keyof typeof ERROR_CODES;

/** The body non-browser clients get: exactly `error code: NNNN`. */
export function errorBody(code: ErrorCodeNumber): string {
  return `error code: ${code}`;
}
