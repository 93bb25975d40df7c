// The resources of the API as the app receives them: generated from the OpenAPI document
// (api-types.ts, `make api-types`), never written by hand.
import type { components } from './api-types';

type Schemas = components['schemas'];

export type User = Schemas['User'];
export type TokenPair = Schemas['TokenPair'];
export type Account = Schemas['Account'];
export type Transaction = Schemas['Transaction'];
export type TransactionKind = Transaction['kind'];
export type Transfer = Schemas['Transfer'];
export type TransferStatus = Transfer['status'];
export type FailureReason = NonNullable<Transfer['failure_reason']>;
export type DailyBalance = Schemas['DailyBalance'];
export type DailyBalances = Schemas['DailyBalances'];
export type Meta = Schemas['Meta'];
export type CurrencyInfo = Schemas['Currency'];

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/** The words the app shows for a failed transfer ("Failed: <reason in words>"), for every reason the
 * API documents (a vitest checks this against openapi.json) and those of its announced additions. */
export const FAILURE_WORDS: Record<string, string> = {
  insufficient_funds: 'not enough money available',
  source_account_closed: 'the sending account is closed',
  target_account_not_found: 'no account has that id',
  target_account_closed: 'the receiving account is closed',
  currency_mismatch: 'the accounts use different currencies',
  timed_out: 'it took too long and was cancelled',
  voided: 'the payee cancelled it',
  expired: 'the payee did not take it in time',
  limit_exceeded: 'it is above the account’s daily spending limit',
  batch_failed: 'another payment of its batch failed',
};

const STATUS_WORDS: Record<string, string> = { pending: 'Pending', completed: 'Completed', authorized: 'Authorized' };

export function transferStatusText(transfer: Pick<Transfer, 'status' | 'failure_reason'>): string {
  if (transfer.status !== 'failed') return STATUS_WORDS[transfer.status] ?? transfer.status;
  const reason = transfer.failure_reason ? FAILURE_WORDS[transfer.failure_reason] : undefined;
  return `Failed: ${reason ?? 'the transfer could not be completed'}`;
}

/** How a transfer reads to the person: between own accounts, out to someone, or in from someone. */
export function direction(
  transfer: Pick<Transfer, 'source_account_id' | 'target_account_id'>,
  own: Record<string, Pick<Account, 'name'> | undefined>,
): { title: string; incoming: boolean; outgoing: boolean } {
  const source = own[transfer.source_account_id];
  const target = own[transfer.target_account_id];
  if (source && target) return { title: `${source.name} → ${target.name}`, incoming: false, outgoing: false };
  if (source) return { title: `From ${source.name} to ${transfer.target_account_id}`, incoming: false, outgoing: true };
  return { title: `To ${target?.name ?? transfer.target_account_id} from ${transfer.source_account_id}`, incoming: true, outgoing: false };
}
