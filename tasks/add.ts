import { defineTask } from '../lib/tasks/define-task.ts';
import { exactInteger } from '../lib/tasks/exact-integer.ts';
import { IntegerList } from './integers.ts';

export const add = defineTask({
  name: 'add',
  description: 'The exact sum of 1 to 1,000 integers of up to 1,000 digits each (JSON numbers or decimal strings).',
  args: IntegerList,
  // A sum of 1,000 integers of 1,000 digits has at most 1,004.
  result: exactInteger(1_004),
  timeoutSeconds: 10,
  pure: true,
  run: (integers) => integers.reduce((sum, value) => sum + value, 0n),
});
