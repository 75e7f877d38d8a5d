//! The ActiveCampaign API v3 client: the only module that speaks HTTP.
