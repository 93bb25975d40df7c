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

/** The words the app shows for a failed transfer ("Failed: <reason in words>"). */
export const FAILURE_WORDS: Record<FailureReason, string> = {
  insufficient_funds: 'not enough money available',
  source_account_closed: 'the sending account is closed',
  target_account_not_found: 'no account has that id',
  target_account_closed: 'the receiving account is closed',
  currency_mismatch: 'the accounts use different currencies',
  timed_out: 'it took too long and was cancelled',
};

export function transferStatusText(transfer: Pick<Transfer, 'status' | 'failure_reason'>): string {
  if (transfer.status === 'pending') return 'Pending';
  if (transfer.status === 'completed') return 'Completed';
  const reason = transfer.failure_reason ? FAILURE_WORDS[transfer.failure_reason] : undefined;
  return `Failed: ${reason ?? 'the transfer could not be completed'}`;
}
