// The logpush feature: jobs from the --logpush / --otlp flags and from Cloudflare's Logpush job
// API on the API port, each delivering trace events through its on-disk spool.
//   POST   /client/v4/accounts/:account/logpush/jobs            create (Cloudflare's job body)
//   GET    /client/v4/accounts/:account/logpush/jobs            list
//   GET    /client/v4/accounts/:account/logpush/jobs/:id        one job
//   PUT    /client/v4/accounts/:account/logpush/jobs/:id        change (every field optional)
//   DELETE /client/v4/accounts/:account/logpush/jobs/:id        delete (its spool too)
//   GET    /client/v4/accounts/:account/logpush/datasets/workers_trace_events/jobs
//   GET    /client/v4/accounts/:account/logpush/datasets/workers_trace_events/fields
import type http from 'node:http';
import { registerCollector } from '../observability/metrics/collectors.ts';
import { DATASET, FIELD_DESCRIPTIONS } from '../observability/logpush/dataset.ts';
import { JobInputError } from '../observability/logpush/jobs.ts';
import { JobPersistError, LogpushService } from '../observability/logpush/service.ts';
import { sendEnvelope } from './api-server.ts';
import { JsonBodyError, readJsonBody } from './json-body.ts';
import type { PlatformContext, PlatformFeature } from './platform-context.ts';

/** Error codes of the logpush endpoints (Flarelet decides; documented in docs/logpush.md). */
export const LOGPUSH_CODES = {
  invalidInput: 1002,
  jobNotFound: 1003,
  flagJob: 1004,
  cannotSave: 1005,
} as const;

const JOBS_PATH = /^\/client\/v4\/accounts\/[^/]+\/logpush\/jobs\/?$/;
const JOB_PATH = /^\/client\/v4\/accounts\/[^/]+\/logpush\/jobs\/([^/]+)\/?$/;
const DATASET_PATH = /^\/client\/v4\/accounts\/[^/]+\/logpush\/datasets\/([^/]+)\/(jobs|fields)\/?$/;

/** The job in the body; an empty body is an error (a job needs fields). */
async function readJob(req: http.IncomingMessage): Promise<unknown> {
  const body = await readJsonBody(req);
  if (body === undefined) throw new JsonBodyError('the request body is empty; send the job as JSON', false);
  return body;
}

export async function attachLogpush(ctx: PlatformContext): Promise<PlatformFeature> {
  let warnedOnce = new Set<string>();
  const service = new LogpushService({
    stateDir: ctx.stateDir,
    retentionDays: ctx.settings.logRetentionDays,
    reportDropped: (scriptName, consumer, count) => ctx.bus.reportDropped(scriptName, consumer, count),
    warn: (message) => {
      // Repeated failures of the same kind are said once: stderr is the user's terminal.
      if (warnedOnce.has(message)) return;
      if (warnedOnce.size > 1000) warnedOnce = new Set();
      warnedOnce.add(message);
      process.stderr.write(`${message}\n`);
    },
  });
  await service.start({ ndjson: ctx.settings.logpushUrls, otlp: ctx.settings.otlpUrls });
  const unsubscribe = ctx.bus.subscribe((event) => service.publish(event));
  const unregister = registerCollector(ctx.bus, () => service.families());

  const fail = (res: http.ServerResponse, status: number, code: number, message: string) => sendEnvelope(res, status, null, [{ code, message }]);

  /** Runs a job change and answers its errors as the envelope says. */
  async function answer(res: http.ServerResponse, run: () => Promise<void>): Promise<void> {
    try {
      await run();
    } catch (error) {
      if (error instanceof JsonBodyError || error instanceof JobInputError) fail(res, 400, LOGPUSH_CODES.invalidInput, error.message);
      else if (error instanceof JobPersistError) fail(res, 500, LOGPUSH_CODES.cannotSave, error.message);
      else throw error;
    }
  }

  ctx.api.addRoute(async (req, res, url) => {
    const method = req.method ?? 'GET';
    if (JOBS_PATH.test(url.pathname)) {
      if (method === 'GET') {
        sendEnvelope(res, 200, service.list());
        return true;
      }
      if (method === 'POST') {
        await answer(res, async () => {
          const job = await service.create(await readJob(req));
          sendEnvelope(res, 200, job);
        });
        return true;
      }
      return false;
    }
    const dataset = DATASET_PATH.exec(url.pathname);
    if (dataset && method === 'GET') {
      if (dataset[1] !== DATASET) {
        fail(res, 400, LOGPUSH_CODES.invalidInput, `dataset "${decodeURIComponent(dataset[1]!)}" is not available; Flarelet pushes the ${DATASET} dataset only`);
      } else if (dataset[2] === 'fields') sendEnvelope(res, 200, FIELD_DESCRIPTIONS);
      else sendEnvelope(res, 200, service.list().filter((j) => j.dataset === DATASET));
      return true;
    }
    const one = JOB_PATH.exec(url.pathname);
    if (!one || !['GET', 'PUT', 'DELETE'].includes(method)) return false;
    const id = /^[1-9]\d{0,15}$/.test(one[1]!) ? Number(one[1]) : NaN;
    if (!Number.isSafeInteger(id)) {
      fail(res, 400, LOGPUSH_CODES.invalidInput, `job id must be a positive integer, got "${one[1]}"`);
      return true;
    }
    const notFound = () => fail(res, 404, LOGPUSH_CODES.jobNotFound, `logpush job ${id} not found`);
    if (method === 'GET') {
      const job = service.get(id);
      if (job) sendEnvelope(res, 200, job);
      else notFound();
      return true;
    }
    if (service.isFlagJob(id)) {
      fail(res, 400, LOGPUSH_CODES.flagJob, `logpush job ${id} comes from a --logpush / --otlp flag; change the command line instead`);
      return true;
    }
    await answer(res, async () => {
      if (method === 'PUT') {
        const job = await service.update(id, await readJob(req));
        if (job) sendEnvelope(res, 200, job);
        else notFound();
      } else if (await service.remove(id)) sendEnvelope(res, 200, { id });
      else notFound();
    });
    return true;
  });

  return {
    async close() {
      unsubscribe();
      unregister();
      await service.close();
    },
  };
}
