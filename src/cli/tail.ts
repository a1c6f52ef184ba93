// Placeholder: `flarelet tail` is being built (see the open issue).
import { UsageError } from './args.ts';

export const TAIL_USAGE = 'Usage: flarelet tail <worker> [options]';

export async function runTail(_argv: string[]): Promise<void> {
  throw new UsageError('flarelet tail is not available yet');
}
