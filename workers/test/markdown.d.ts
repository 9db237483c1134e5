/** A document of the repository as text, through Vite's `?raw` import (tests only: the docs they check). */
declare module "*.md?raw" {
  const text: string;
  export default text;
}
