// The application asked for this sign-out with a valid ID token of this account: confirm it at once.
// Without script the same button is there to press.
document.getElementById('sign-out').click();
