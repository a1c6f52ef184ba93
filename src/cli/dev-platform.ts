// Starts the platform features that `flarelet dev` offers on its API port, in the order their
// consumers depend on: metrics first (it counts what the others drop), then logs, tail, logpush.
import { attachLogpush } from '../control/logpush-api.ts';
import { attachLogs } from '../control/logs-api.ts';
import { attachMetrics } from '../control/metrics-api.ts';
import type { PlatformContext, PlatformFeature } from '../control/platform-context.ts';
import { attachTail } from '../control/tail-api.ts';

export async function startPlatform(ctx: PlatformContext): Promise<PlatformFeature> {
  const features: PlatformFeature[] = [];
  for (const attach of [attachMetrics, attachLogs, attachTail, attachLogpush]) features.push(await attach(ctx));
  return {
    async close() {
      for (const feature of features.reverse()) await feature.close();
    },
  };
}
