/** A document of the repository as text, through Vite's `?raw` import (tests only: the docs they check). */
declare module "*.md?raw" {
  const text: string;
  export default text;
}

/** A migration of the repository as text (tests only: the hand-written steps they check). */
declare module "*.sql?raw" {
  const text: string;
  export default text;
}
