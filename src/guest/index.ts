// Entry point of the guest bundle. Runs first in every isolate: it takes the host's handles into
// private closures, installs the Web APIs, and leaves behind one object the host collects and
// deletes before any user code runs.
import { configureWorker, handlerProblem, setModuleExports } from './dispatch.ts';
import { installGlobals } from './globals.ts';
import { setBufferingLimit } from './buffering-limit.ts';
import { captureHost, onHostEvent } from './host.ts';
import { enforceGlobalScopeRule } from './io-context.ts';

captureHost('__flareletHost');
installGlobals();
// Inside an isolate the top-level scope must not make I/O objects (unit tests that load guest
// modules in Node do not run this file, so there everything may run as top-level code).
enforceGlobalScopeRule();

function bindGlobals(bindings: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(bindings)) {
    Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: true });
  }
}

(globalThis as Record<string, unknown>).__flareletGuest = {
  onHostEvent,
  /** format and bindings (JSON) of the worker about to load; service workers see bindings as globals */
  configure(format: 'service-worker' | 'module', bindingsJson: string): void {
    const bindings = JSON.parse(bindingsJson) as Record<string, unknown>;
    configureWorker(format, format === 'module' ? Object.freeze({ ...bindings }) : {});
    if (format === 'service-worker') bindGlobals(bindings);
  },
  setModuleExports,
  handlerProblem,
  /** bytes a body may buffer (text(), arrayBuffer(), …) before the Memory limit TypeErrors */
  setBufferingLimit,
};
