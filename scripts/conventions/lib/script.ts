/**
 * What every scenario says to the fake model, so the fixtures of different
 * libraries carry the same conversation and can be compared key by key.
 * Only Node built-ins here: this file is imported from every workspace.
 */

export const SYSTEM_PROMPT = 'You are a terse assistant for Verdict tests.';
export const CHAT_QUESTION = 'What is the capital of France?';
export const AGENT_QUESTION = 'What is the weather in Paris right now?';
export const CHAT_MODEL = 'gpt-4o-mini';
export const EMBEDDING_MODEL = 'text-embedding-3-small';
export const EMBEDDING_INPUTS = ['Verdict stores traces', 'and the verdicts on them'];

/** The thread and the user the scenarios attach in each library's own way. */
export const SESSION_ID = 'thread-42';
export const USER_ID = 'user-7';

export const WEATHER_TOOL = {
  name: 'get_weather',
  description: 'Current weather for a city',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string', description: 'City name' } },
    required: ['city'],
    additionalProperties: false,
  },
} as const;

/** The tool's implementation: deterministic, so the tool result is the same in every fixture. */
export function getWeather(args: { city: string }): { city: string; temperature_c: number; conditions: string } {
  return { city: args.city, temperature_c: 18, conditions: 'cloudy' };
}

/** The model name the fake server rejects with 404 model_not_found. */
export const MISSING_MODEL = 'no-such-model';

/** Where a scenario sends things; set by capture.ts. */
export function scenarioEnv(): { modelBaseURL: string; otlpBaseURL: string; name: string } {
  const modelBaseURL = process.env.FAKE_OPENAI_BASE_URL;
  const otlpBaseURL = process.env.CAPTURE_OTLP_BASE_URL;
  const name = process.env.CAPTURE_SCENARIO;
  if (!modelBaseURL || !otlpBaseURL || !name) {
    throw new Error('run scenarios through capture.ts (FAKE_OPENAI_BASE_URL, CAPTURE_OTLP_BASE_URL, CAPTURE_SCENARIO unset)');
  }
  return { modelBaseURL, otlpBaseURL, name };
}

/** Runs `fn`, swallowing the error a scenario provokes on purpose (the 404 model). */
export async function expectFailure(what: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
    console.error(`${what}: expected a failure, got success`);
  } catch (e) {
    console.log(`${what}: failed as intended (${(e as Error).message?.split('\n')[0]})`);
  }
}
