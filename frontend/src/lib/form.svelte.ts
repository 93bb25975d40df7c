// What every form of the app keeps while it sends: busy, then the answer's field errors and a sentence for the person.
import { fieldErrorsOf, formMessageOf, type FieldErrors } from './api';

/** The reactive state of one form: markup reads its fields, and client-side checks may set them before a submit. */
export interface FormState {
  /** True while the action runs. No guard against a second submit here: the submit button is `disabled={busy}`. */
  busy: boolean;
  /** Messages shown next to their field, from client-side checks or from the API's problem. */
  errors: FieldErrors;
  /** One sentence about the whole submit (shown as an alert), or ''. */
  message: string;
  /** Show the errors client-side checks found, in place of the last outcome; true when there are none. */
  validated(found: FieldErrors): boolean;
  /** Clear the last outcome and run the action while busy; an error it throws becomes errors and message. */
  submit(action: () => Promise<unknown>): Promise<void>;
}

/** A fresh state for one form; a component calls it once, in its script. */
export function formState(): FormState {
  const form: FormState = $state({
    busy: false,
    errors: {},
    message: '',
    validated(found) {
      form.errors = found;
      form.message = '';
      return Object.keys(found).length === 0;
    },
    async submit(action) {
      form.errors = {};
      form.message = '';
      form.busy = true;
      try {
        await action();
      } catch (error) {
        form.errors = fieldErrorsOf(error);
        form.message = formMessageOf(error);
      } finally {
        form.busy = false;
      }
    },
  });
  return form;
}
