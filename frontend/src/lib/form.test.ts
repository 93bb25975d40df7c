import { describe, expect, it } from 'vitest';
import { ApiError, NetworkError } from './api';
import { formState } from './form.svelte';

/** A promise the test settles by hand, to look at the form while its action is still running. */
function deferred() {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const validationProblem = () =>
  new ApiError({
    status: 422,
    slug: 'validation-error',
    title: 'Validation failed',
    fieldErrors: { name: ['Too long.'] },
  });

describe('formState', () => {
  it('starts idle, without errors or message', () => {
    const form = formState();
    expect(form.busy).toBe(false);
    expect(form.errors).toEqual({});
    expect(form.message).toBe('');
  });

  it('is busy while the action runs and not after it succeeded', async () => {
    const form = formState();
    const action = deferred();
    const submitted = form.submit(() => action.promise);
    expect(form.busy).toBe(true);
    action.resolve();
    await submitted;
    expect(form.busy).toBe(false);
    expect(form.errors).toEqual({});
    expect(form.message).toBe('');
  });

  it('is not busy after the action failed either', async () => {
    const form = formState();
    const action = deferred();
    const submitted = form.submit(() => action.promise);
    expect(form.busy).toBe(true);
    action.reject(validationProblem());
    await submitted;
    expect(form.busy).toBe(false);
  });

  it('turns a problem into field errors and a message', async () => {
    const form = formState();
    await form.submit(() => Promise.reject(validationProblem()));
    expect(form.errors).toEqual({ name: ['Too long.'] });
    expect(form.message).toBe('Please correct the highlighted fields.');
  });

  it('puts a single-field problem at its field, and says it only there', async () => {
    const form = formState();
    const problem = new ApiError({ status: 422, slug: 'insufficient-funds', title: 'Insufficient funds' });
    await form.submit(() => Promise.reject(problem));
    expect(form.errors).toEqual({ amount: ['There is not enough money available on this account.'] });
    expect(form.message).toBe('');
  });

  it('clears the last errors and message as soon as the next submit starts', async () => {
    const form = formState();
    await form.submit(() => Promise.reject(validationProblem()));
    const action = deferred();
    const submitted = form.submit(() => action.promise);
    expect(form.errors).toEqual({});
    expect(form.message).toBe('');
    action.resolve();
    await submitted;
    expect(form.errors).toEqual({});
    expect(form.message).toBe('');
  });

  it('gives a generic message and no field errors for an error that is not a problem', async () => {
    const form = formState();
    await form.submit(() => Promise.reject(new TypeError('x is undefined')));
    expect(form.errors).toEqual({});
    expect(form.message).toBe('Something went wrong. Please try again.');
  });

  it('says that the server could not be reached for a network error', async () => {
    const form = formState();
    await form.submit(() => Promise.reject(new NetworkError()));
    expect(form.message).toBe("Can't reach hexbank. Check your connection and try again.");
  });

  it('does not ignore a submit while busy: the forms disable their submit button instead', async () => {
    const form = formState();
    const first = deferred();
    const second = deferred();
    let runs = 0;
    const one = form.submit(() => ((runs += 1), first.promise));
    const two = form.submit(() => ((runs += 1), second.promise));
    expect(runs).toBe(2);
    first.resolve();
    second.resolve();
    await Promise.all([one, two]);
    expect(form.busy).toBe(false);
  });
});

describe('formState.validated', () => {
  it('shows the errors found before sending, clears the message and says to stop', async () => {
    const form = formState();
    await form.submit(() => Promise.reject(new NetworkError()));
    expect(form.validated({ email: ['Enter your email.'] })).toBe(false);
    expect(form.errors).toEqual({ email: ['Enter your email.'] });
    expect(form.message).toBe('');
  });

  it('clears the last outcome and says to go on when nothing was found', async () => {
    const form = formState();
    await form.submit(() => Promise.reject(validationProblem()));
    expect(form.validated({})).toBe(true);
    expect(form.errors).toEqual({});
    expect(form.message).toBe('');
  });
});
