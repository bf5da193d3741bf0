// A copy button for the key shown once: the key is also selectable in its field without script.
{
  const field = document.getElementById('new-key');
  const button = document.getElementById('copy-key');
  const status = document.getElementById('copy-status');
  button.hidden = false;
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(field.value);
      status.textContent = 'Copied.';
    } catch {
      field.select();
      status.textContent = 'Select the key and copy it.';
    }
  });
}
