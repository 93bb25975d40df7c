// The resources of API.md, as the app receives them.

export interface User {
  id: string;
  email: string;
  name: string;
  created_at: string;
}

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: 'Bearer';
  expires_in: number;
}

export interface Account {
  id: string;
  name: string;
  currency: string;
  balance: number;
  available_balance: number;
  status: 'open' | 'closed';
  version: number;
  opened_at: string;
  updated_at: string;
}

export type TransactionKind = 'deposit' | 'withdrawal' | 'transfer_in' | 'transfer_out';

export interface Transaction {
  id: string;
  account_id: string;
  kind: TransactionKind;
  amount: number;
  currency: string;
  balance_after: number;
  reference: string | null;
  transfer_id: string | null;
  occurred_at: string;
}

export type TransferStatus = 'pending' | 'completed' | 'failed';

export type FailureReason =
  | 'insufficient_funds'
  | 'source_account_closed'
  | 'target_account_not_found'
  | 'target_account_closed'
  | 'currency_mismatch'
  | 'timed_out';

export interface Transfer {
  id: string;
  source_account_id: string;
  target_account_id: string;
  amount: number;
  currency: string;
  reference: string | null;
  status: TransferStatus;
  failure_reason: FailureReason | null;
  created_at: string;
  updated_at: string;
  completed_at: string | null;
}

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
