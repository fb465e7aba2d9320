"""Client credentials: advertiser (ak_), event (ek_) and publisher (pk_) keys, and the admin token."""
