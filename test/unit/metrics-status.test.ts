// Which outcome counts under which invocation status and client-disconnect type (docs/metrics.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { disconnectType, invocationStatus, OUTCOMES, STATUSES } from '../../src/observability/metrics/status.ts';

test('every outcome of the trace event maps to the documented status', () => {
  const expected: Record<string, string> = {
    ok: 'success',
    canceled: 'clientDisconnected',
    responseStreamDisconnected: 'clientDisconnected',
    exception: 'scriptThrewException',
    exceededCpu: 'exceededResources',
    exceededMemory: 'exceededResources',
    exceededWallTime: 'exceededResources',
    internalError: 'internalError',
    daemonDown: 'internalError',
    unknown: 'internalError',
    killSwitch: 'internalError',
    scriptNotFound: 'internalError',
    loadShed: 'internalError',
    aborted: 'internalError',
  };
  assert.deepEqual([...OUTCOMES].sort(), Object.keys(expected).sort(), 'the table covers every outcome (spec §4)');
  for (const outcome of OUTCOMES) assert.equal(invocationStatus(outcome), expected[outcome], outcome);
  for (const status of Object.values(expected)) assert.ok(STATUSES.includes(status as never), status);
});

test('an outcome this version does not know is an internal error, never a success', () => {
  assert.equal(invocationStatus('somethingNew'), 'internalError');
  assert.equal(invocationStatus(''), 'internalError');
});

test('client disconnects by type: canceled and responseStreamDisconnected only', () => {
  assert.equal(disconnectType('canceled'), 'canceled');
  assert.equal(disconnectType('responseStreamDisconnected'), 'responseStreamDisconnected');
  for (const outcome of OUTCOMES.filter((o) => o !== 'canceled' && o !== 'responseStreamDisconnected')) assert.equal(disconnectType(outcome), null, outcome);
});
