import { browserSupportsWebAuthn, startAuthentication, startRegistration } from '@simplewebauthn/browser';

export { browserSupportsWebAuthn };

/** Run the browser's sign-in ceremony for options from the service and return the JSON response. */
export async function getPasskey(optionsJSON: any): Promise<unknown> {
  return startAuthentication({ optionsJSON });
}

/** Run the browser's registration ceremony for options from the service and return the JSON response. */
export async function createPasskey(optionsJSON: any): Promise<unknown> {
  return startRegistration({ optionsJSON });
}
