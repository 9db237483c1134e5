export function NotFoundPage() {
  return (
    <section class="narrow">
      <h1>Nothing here</h1>
      <p>
        This page does not exist. Go to the <a href="/">home page</a> or <a href="/search">search</a> for a title.
      </p>
    </section>
  );
}
