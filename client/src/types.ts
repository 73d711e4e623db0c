/** The doozer API's wire types, as a client sees them (v1). */

export type TaskName = 'add' | 'mul';
export type TaskState = 'PENDING' | 'RETRY' | 'SUCCESS' | 'FAILURE';

/** An exact integer: a JSON number when safe, else a decimal string. */
export type WireInteger = number | string;

export interface TaskView {
  id: string;
  name: string;
  args: WireInteger[];
  state: TaskState;
  result?: WireInteger;
  error?: { code: string; message: string };
  createdAt: string;
  updatedAt: string;
  expiresAt: string;
}

export interface TokenResponse {
  token: string;
  tokenType: 'Bearer';
  expiresIn: number;
}

export interface ApiErrorBody {
  error: { code: string; message: string };
}

export const TERMINAL_STATES: readonly TaskState[] = ['SUCCESS', 'FAILURE'];

export function isTerminal(task: TaskView): boolean {
  return TERMINAL_STATES.includes(task.state);
}
