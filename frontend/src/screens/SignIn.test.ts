// The guard against a double submit is the disabled button: while the request runs, a second click sends nothing.
import { fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, expect, it, vi } from 'vitest';
import SignIn from './SignIn.svelte';

afterEach(() => {
  vi.unstubAllGlobals();
});

it('disables Sign in while signing in, so a second click sends nothing, then shows the answer', async () => {
  let answer!: (response: Response) => void;
  const fetch = vi.fn(() => new Promise<Response>((resolve) => (answer = resolve)));
  vi.stubGlobal('fetch', fetch);
  render(SignIn);

  await fireEvent.input(screen.getByLabelText('Email'), { target: { value: 'ada@example.com' } });
  await fireEvent.input(screen.getByLabelText('Password'), { target: { value: 'wrong password' } });
  const button = screen.getByRole('button', { name: 'Sign in' }) as HTMLButtonElement;
  await fireEvent.click(button);
  expect(button.disabled).toBe(true);
  await fireEvent.click(button);
  expect(fetch).toHaveBeenCalledTimes(1);

  const problem = { type: '/problems/unauthorized', title: 'Unauthorized', status: 401 };
  answer(new Response(JSON.stringify(problem), { status: 401, headers: { 'Content-Type': 'application/problem+json' } }));
  expect((await screen.findByRole('alert')).textContent).toBe('Wrong email or password.');
  expect(button.disabled).toBe(false);
});
