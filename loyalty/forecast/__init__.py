"""Program forecast before launch: drafts of a program replayed over the merchant's own
purchase history (or a synthetic one sized from Point A) with the engine's rule functions."""
