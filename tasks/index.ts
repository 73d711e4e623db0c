import { add } from './add.ts';
import { mul } from './mul.ts';
import { primes } from './primes.ts';
import { sleep } from './sleep.ts';

/**
 * Every task doozer runs. To add one, write it in its own file here with `defineTask` (the README's
 * "Your own tasks" shows how) and list it below: the API, its document, `GET /task-types`, the
 * worker and serverless.yml's limits all follow from this list.
 */
export const TASKS = [add, mul, sleep, primes] as const;
