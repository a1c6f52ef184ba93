// The error pages the edge answers with, one table for all of them (spec §3). The body format
// here is the one non-browser clients get (`error code: NNNN`); richer negotiated formats build
// on the same table.
export interface ErrorCode {
  code: number;
  status: number;
  title: string;
}

export const ERROR_CODES = {
  1101: { code: 1101, status: 500, title: 'Worker threw exception' },
  1102: { code: 1102, status: 503, title: 'Worker exceeded resource limits' },
  1103: { code: 1103, status: 403, title: 'Worker disabled' },
  1015: { code: 1015, status: 429, title: 'You are being rate limited' },
  1019: { code: 1019, status: 508, title: 'Worker hit loop limit' },
  1021: { code: 1021, status: 403, title: 'Worker requested a host it cannot access' },
  1022: { code: 1022, status: 404, title: 'No Worker for this host or route' },
  1024: { code: 1024, status: 403, title: 'Worker cannot make a subrequest to the platform itself' },
  1027: { code: 1027, status: 429, title: 'Worker exceeded daily request limit' },
  1042: { code: 1042, status: 500, title: 'Worker tried to fetch another Worker on the same zone' },
} as const satisfies Record<number, ErrorCode>;

export type ErrorCodeNumber = keyof typeof ERROR_CODES;

export function errorBody(code: ErrorCodeNumber): string {
  return `error code: ${code}`;
}
