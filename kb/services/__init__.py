"""Services: verbs over the domain. They take ``session`` first, flush at most, never commit."""
