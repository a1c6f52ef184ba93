// Operator switches for the workers a process serves. `POST …/workers/scripts/:name/disable`
// makes the edge answer the worker's requests with 1103 until `…/enable` (Cloudflare has no
// public endpoint for this; Flarelet decides the paths, see the README).
import type { ApiServer } from './api-server.ts';
import { sendEnvelope } from './api-server.ts';

export interface SwitchableWorker {
  disabled?: boolean;
}

const SWITCH_PATH = /^\/client\/v4\/accounts\/[^/]+\/workers\/scripts\/([^/]+)\/(enable|disable)$/;

export function attachWorkerSwitches(api: ApiServer, lookup: (name: string) => SwitchableWorker | undefined): void {
  api.addRoute((req, res, url) => {
    const match = SWITCH_PATH.exec(url.pathname);
    if (!match) return false;
    if (req.method !== 'POST') {
      sendEnvelope(res, 405, null, [{ code: 10000, message: `${req.method} is not allowed here; use POST` }]);
      return true;
    }
    const name = decodeURIComponent(match[1]);
    const worker = lookup(name);
    if (!worker) {
      sendEnvelope(res, 404, null, [{ code: 10007, message: 'This Worker does not exist on your account.' }]);
      return true;
    }
    worker.disabled = match[2] === 'disable';
    sendEnvelope(res, 200, { name, enabled: !worker.disabled });
    return true;
  });
}
