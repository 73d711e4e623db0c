import type { LoggedVariables } from './request-logging.ts';

/** The app's Hono environment: what a request carries on its context, from the middleware to the answer. */
export type AppEnv = {
  Variables: LoggedVariables & {
    user: string;
    /** A submission's admission by the caller's request rate, decided beside its open-task slots (requireSubmitter). */
    admission?: Promise<void>;
  };
};
