/**
 * The slice of a structured logger the core needs. Powertools Logger satisfies it in the Lambdas;
 * tests pass a silent one.
 */
export type LogFields = Record<string, unknown>;

export interface Logger {
  info(message: string, ...fields: LogFields[]): void;
  warn(message: string, ...fields: LogFields[]): void;
  error(message: string, ...fields: LogFields[]): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
