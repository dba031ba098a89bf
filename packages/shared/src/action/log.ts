import { forTerminal } from './surfaces';

/** Where shared code writes what it does; the actions pass the toolkit's functions, tests pass their own. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  group<T>(title: string, body: () => Promise<T>): Promise<T>;
}

export const consoleLogger: Logger = {
  info: (message) => console.log(forTerminal(message)),
  warn: (message) => console.warn(`warning: ${forTerminal(message)}`),
  group: async (title, body) => {
    console.log(`== ${forTerminal(title)}`);
    return body();
  },
};

export const silentLogger: Logger = { info: () => {}, warn: () => {}, group: (_title, body) => body() };
