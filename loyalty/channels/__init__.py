"""Real delivery channels behind the outbox's one delivery interface
(`loyalty.campaigns.delivery`): the card inbox, Telegram bot, SMS gateways (SMSC, Twilio),
web push (VAPID) and e-mail, with per-merchant credentials (`ChannelSettings`), one HTTP
transport that tests replace with recorded vendor answers (`http.TRANSPORT`), consent per
channel with signed unsubscribe links, and the Telegram webhook.

The client card site calls the functions in `loyalty.channels.api` only."""
