"""POS integrations (Evotor, Poster): parse what the till sends, authenticate it, and call
the same purchase and refund services as the cashier page."""
