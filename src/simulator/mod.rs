//! A faithful ActiveCampaign API v3 simulator (the other side of the wire).
