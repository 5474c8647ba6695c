// Progressive enhancement only: every page works without this file.
// Forms marked data-confirm ask before they submit (sign-off, reject, revoke).
document.addEventListener('submit', (ev) => {
  const form = ev.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) ev.preventDefault();
});
