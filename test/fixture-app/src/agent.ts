/** What POST /run-agent accepts: a task and an optional step budget. */
export interface RunRequest {
  task: string;
  maxSteps: number;
}

/** Reads a /run-agent body, or says what is wrong with it. */
export function parseRunRequest(body: unknown): RunRequest | { error: string } {
  if (typeof body !== 'object' || body === null) return { error: 'the body is not a JSON object' };
  const { task, maxSteps } = body as Record<string, unknown>;
  if (typeof task !== 'string' || task.trim() === '') return { error: 'task must be a non-empty string' };
  if (maxSteps === undefined) return { task, maxSteps: 8 };
  if (typeof maxSteps !== 'number' || !Number.isInteger(maxSteps) || maxSteps < 1 || maxSteps > 64) {
    return { error: 'maxSteps must be a whole number from 1 to 64' };
  }
  return { task, maxSteps };
}

/** The plan the agent loop follows for a task: one step a sentence, at most maxSteps. */
export function planSteps(request: RunRequest): string[] {
  const sentences = request.task
    .split(/[.!?]+/)
    .map((sentence) => sentence.trim())
    .filter((sentence) => sentence !== '');
  return sentences.slice(0, request.maxSteps);
}
