// Every form on these pages is driven by its page's module script, which runs after the document
// is parsed. A click or Enter that lands before then would submit the form natively: a GET of this
// page with the fields in the address (the sign-in form's password too) instead of the request the
// page makes. So this classic script, which runs first, holds such submissions and hands them to
// the form again once the module scripts have run (they all run before DOMContentLoaded).
(() => {
  const held = [];
  const hold = (event) => {
    event.preventDefault();
    event.stopImmediatePropagation();
    held.push({ form: event.target, submitter: event.submitter });
  };
  document.addEventListener("submit", hold, true);
  document.addEventListener("DOMContentLoaded", () => {
    document.removeEventListener("submit", hold, true);
    for (const { form, submitter } of held) {
      form.requestSubmit(submitter && submitter.form === form ? submitter : undefined);
    }
  });
})();
