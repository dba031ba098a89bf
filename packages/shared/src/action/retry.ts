import { systemClock, type Clock } from './clock';

export interface RetryOptions {
  attempts: number;
  delayMs: number;
  /** Decides whether an error is worth another attempt. */
  retryable?: (error: unknown) => boolean;
  clock?: Clock;
  onRetry?: (error: unknown, attempt: number) => void;
}

/** The one retry helper: bounded attempts, linear backoff. */
export async function retry<T>(task: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const clock = options.clock ?? systemClock;
  let lastError: unknown;
  for (let attempt = 1; attempt <= options.attempts; attempt++) {
    try {
      return await task(attempt);
    } catch (error) {
      lastError = error;
      if (attempt === options.attempts || (options.retryable && !options.retryable(error))) throw error;
      options.onRetry?.(error, attempt);
      await clock.sleep(options.delayMs * attempt);
    }
  }
  throw lastError;
}
