// Renders the body of an error page in the format the client's Accept header prefers (spec §3):
// plain text (the default, also for `*/*`), an HTML page, RFC 9457 problem details as JSON, or
// Markdown with YAML front matter. The facts come from error-codes.ts; this file only lays them
// out and escapes what comes from the client (the host).
import { STATUS_CODES } from 'node:http';
import { negotiator } from './accept.ts';
import { ERROR_CODES, errorBody } from './error-codes.ts';
import type { ErrorCode, ErrorCodeNumber } from './error-codes.ts';

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

export type ErrorPageFormat = 'text' | 'html' | 'problem+json' | 'json' | 'markdown';

// Server preference, used when the client rates several formats the same: plain text first so
// that `*/*`, `text/*` and a missing Accept header all get `error code: NNNN`. Every offer
// carries charset=utf-8 so that a range such as `application/json; charset=utf-8` matches.
const OFFERS: ReadonlyArray<{ mediaType: string; format: ErrorPageFormat }> = [
  { mediaType: 'text/plain;charset=utf-8', format: 'text' },
  { mediaType: 'text/html;charset=utf-8', format: 'html' },
  { mediaType: 'application/problem+json;charset=utf-8', format: 'problem+json' },
  { mediaType: 'application/json;charset=utf-8', format: 'json' },
  { mediaType: 'text/markdown;charset=utf-8', format: 'markdown' },
];
const pickOffer = negotiator(OFFERS.map((offer) => offer.mediaType));

/** The format for an Accept header; plain text when it accepts none of the formats. */
export function errorPageFormat(accept: string | undefined): ErrorPageFormat {
  const index = pickOffer(accept);
  return index < 0 ? 'text' : OFFERS[index].format;
}

/** The Host header without its port, lower-cased: `Example.com:8787` → `example.com`, `[::1]:80` → `[::1]`. */
export function zoneOf(host: string): string {
  const trimmed = host.trim().toLowerCase();
  if (trimmed.startsWith('[')) {
    const end = trimmed.indexOf(']');
    return end > 0 ? trimmed.slice(0, end + 1) : trimmed;
  }
  return trimmed.replace(/:\d*$/, '');
}

/** The facts every structured format carries, in the order the JSON body lists them. */
function problemDetails(info: ErrorCode, ctx: ErrorPageContext, zone: string) {
  return {
    type: info.docs,
    title: info.title,
    status: info.status,
    detail: info.whatHappened(zone === '' ? 'this site' : zone),
    // Not dereferenceable on purpose (the worker owns every path of its host): a URN that names
    // this one occurrence, as RFC 9457 §3.1.5 allows.
    instance: `urn:flarelet:ray:${encodeURIComponent(ctx.rayId)}`,
    error_code: info.code,
    error_name: info.name,
    error_category: info.category,
    ray_id: ctx.rayId,
    timestamp: ctx.timestamp.toISOString(),
    zone,
    retryable: info.retryable,
    owner_action_required: info.ownerActionRequired,
  };
}

// ---------------------------------------------------------------------------------------------
// HTML

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/** `2026-11-21 19:06:55 UTC`: the page shows seconds, the `datetime` attribute keeps milliseconds. */
function humanUtc(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

const STYLE = `
:root{color-scheme:light dark;--bg:#f6f7f9;--card:#fff;--text:#1d2127;--muted:#5b6472;--line:#e2e5ea;--accent:#d9480f;--code:#eef0f3}
@media (prefers-color-scheme:dark){:root{--bg:#111418;--card:#1a1e24;--text:#e6e8eb;--muted:#9aa3af;--line:#2a3038;--accent:#ff8a4c;--code:#242a32}}
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;padding:24px 16px;background:var(--bg);color:var(--text);font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{width:100%;max-width:640px;background:var(--card);border:1px solid var(--line);border-radius:12px;padding:28px 28px 20px;overflow-wrap:anywhere}
.code{margin:0;color:var(--accent);font-weight:600;font-size:.9rem;letter-spacing:.06em;text-transform:uppercase}
h1{margin:.25em 0 .9em;font-size:1.6rem;line-height:1.25}
h2{margin:1.4em 0 .3em;font-size:1rem}
p{margin:.3em 0}
.who{color:var(--muted)}
footer{margin-top:1.8em;padding-top:12px;border-top:1px solid var(--line);color:var(--muted);font-size:.85rem;display:flex;flex-wrap:wrap;gap:4px 18px}
code{font:.85rem ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--code);padding:1px 5px;border-radius:4px}
a{color:inherit}
@media (max-width:480px){main{padding:20px 18px 14px;border-radius:10px}h1{font-size:1.35rem}}
`.trim();

function renderHtml(info: ErrorCode, ctx: ErrorPageContext, zone: string): string {
  const site = zone === '' ? 'this site' : `<strong>${escapeHtml(zone)}</strong>`;
  const reason = STATUS_CODES[info.status] ?? '';
  const ray = escapeHtml(ctx.rayId);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>Error ${info.code}: ${escapeHtml(info.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<p class="code">Error ${info.code} · ${info.status} ${escapeHtml(reason)}</p>
<h1>${escapeHtml(info.title)}</h1>
<h2>What happened?</h2>
<p>${info.whatHappened(site)}</p>
<h2>What can I do?</h2>
<p><span class="who">If you are visiting this site:</span> ${escapeHtml(info.visitorAction)}</p>
<p><span class="who">If you own this site:</span> ${escapeHtml(info.ownerAction)}</p>
<footer>
<span>Ray ID: <code>${ray}</code></span>
<span><time datetime="${ctx.timestamp.toISOString()}">${humanUtc(ctx.timestamp)}</time></span>
<span><a href="${escapeHtml(info.docs)}" rel="noreferrer">About error ${info.code}</a></span>
</footer>
</main>
</body>
</html>
`;
}

// ---------------------------------------------------------------------------------------------
// Markdown

/**
 * A YAML double-quoted scalar. Everything outside printable ASCII is written as `\uXXXX` so that
 * control or C1 characters a client slipped into its Host header cannot end the front matter.
 */
function yamlString(text: string): string {
  let out = '"';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (cp >= 0x20 && cp < 0x7f) out += ch;
    else if (cp <= 0xffff) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += `\\U${cp.toString(16).padStart(8, '0')}`;
  }
  return `${out}"`;
}

/**
 * A CommonMark code span holding `text` literally: the fence is one backtick longer than the
 * longest run inside, and padded with spaces when the text touches a backtick, so no HTML, link or
 * emphasis in the host can take effect.
 */
function codeSpan(text: string): string {
  const longestRun = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longestRun + 1);
  const pad = text.startsWith('`') || text.endsWith('`') || (text.startsWith(' ') && text.endsWith(' ')) ? ' ' : '';
  // Line breaks would end the span in a list or heading; a Host header has none, but be sure.
  return `${fence}${pad}${text.replace(/[\r\n]+/g, ' ')}${pad}${fence}`;
}

function renderMarkdown(info: ErrorCode, ctx: ErrorPageContext, zone: string): string {
  const facts = problemDetails(info, ctx, zone);
  const frontMatter = [
    `type: ${yamlString(facts.type)}`,
    `title: ${yamlString(facts.title)}`,
    `status: ${facts.status}`,
    `instance: ${yamlString(facts.instance)}`,
    `error_code: ${facts.error_code}`,
    `error_name: ${facts.error_name}`,
    `error_category: ${facts.error_category}`,
    `ray_id: ${yamlString(facts.ray_id)}`,
    `timestamp: ${yamlString(facts.timestamp)}`,
    `zone: ${yamlString(facts.zone)}`,
    `retryable: ${facts.retryable}`,
    `owner_action_required: ${facts.owner_action_required}`,
  ];
  const site = zone === '' ? 'this site' : codeSpan(zone);
  return `---
${frontMatter.join('\n')}
---

# Error ${info.code}: ${info.title}

## What happened

${info.whatHappened(site)}

## What you can do

- If you are visiting this site: ${info.visitorAction}
- If you own this site: ${info.ownerAction}
`;
}

// ---------------------------------------------------------------------------------------------

const CONTENT_TYPES: Record<ErrorPageFormat, string> = {
  text: 'text/plain; charset=UTF-8',
  html: 'text/html; charset=UTF-8',
  'problem+json': 'application/problem+json',
  json: 'application/json',
  markdown: 'text/markdown; charset=UTF-8',
};

export function renderErrorPage(code: ErrorCodeNumber, ctx: ErrorPageContext): ErrorPage {
  const format = errorPageFormat(ctx.accept);
  const contentType = CONTENT_TYPES[format];
  if (format === 'text') return { contentType, body: errorBody(code) };
  const info: ErrorCode = ERROR_CODES[code];
  const zone = zoneOf(ctx.host);
  switch (format) {
    case 'html':
      return { contentType, body: renderHtml(info, ctx, zone) };
    case 'markdown':
      return { contentType, body: renderMarkdown(info, ctx, zone) };
    case 'json':
    case 'problem+json':
      return { contentType, body: JSON.stringify(problemDetails(info, ctx, zone)) };
  }
}
