import type { UserProfiles } from '../auth/user-profiles.ts';
import { type TargetPolicy, checkCallbackUrl } from '../webhooks/target-policy.ts';

/** What deciding a submission's callbackUrl needs; without either, the app sends no webhooks. */
export interface CallbackDependencies {
  /** Each user's webhook secret and default callbackUrl. */
  readonly profiles?: UserProfiles;
  /** Where callbacks may go (the local stage allows loopback). */
  readonly callbackPolicy?: TargetPolicy;
}

/** A submission's callbackUrl, if it has one, or why it is refused. */
export type CallbackDecision = { callbackUrl?: string } | { refused: string };

/**
 * The callbackUrl a submission gets: its own, or its owner's default; checked against the address
 * policy, and only for an owner who has a webhook secret to sign with. A refusal names why.
 */
export function callbackResolver(deps: CallbackDependencies): (user: string, requested: string | undefined) => CallbackDecision {
  return (user, requested) => {
    const callbackUrl = requested ?? deps.profiles?.callbackUrlOf(user);
    if (callbackUrl === undefined) return {};
    if (!deps.callbackPolicy || !deps.profiles) return { refused: 'this server sends no webhooks; leave out callbackUrl' };
    const checked = checkCallbackUrl(callbackUrl, deps.callbackPolicy);
    if (!checked.ok) return { refused: requested === undefined ? `your default ${checked.reason}` : checked.reason };
    if (deps.profiles.webhookSecretOf(user) === undefined) {
      return { refused: 'your user has no webhook secret to sign callbacks with; ask the operator to set webhookSecret in your user configuration' };
    }
    return { callbackUrl };
  };
}
