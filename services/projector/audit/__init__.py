"""The access audit: who read which customer's personal data, when, from where (`customer.accessed`
on the `audit` topic), and the small projection that shows it to admins."""
