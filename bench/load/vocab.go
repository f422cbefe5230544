package load

// The vocabulary of the generator's shops (package gen keeps it unexported). Segments
// drawn from it have members; TestVocabularyInHistory checks that every value still
// occurs in the generated traffic.

var (
	// countries are the markets of the generator's shops (ISO 3166-1 alpha-2).
	countries = []string{"MX", "CO", "US", "ES", "BR", "AR", "CL", "PE"}
	// languages are the primary subtags of their locales.
	languages = []string{"es", "en", "pt", "ca"}
	stages    = []string{"lead", "first_time_buyer", "repeat_buyer", "at_risk", "lapsed"}
	consents  = []string{"yes", "no", "unknown"}
	// brands are the vendors of the catalog.
	brands = []string{
		"Luna Cosmetics", "Andes Outdoor", "Café Montaña", "Tierra Verde", "Sol de Oaxaca",
		"Río Activewear", "Pampa Leather", "Brisa Swim", "Nómada Travel", "Casa Alebrije",
	}
	// collections are the catalog's collections.
	collections = []string{
		"skincare", "beauty", "outdoor", "apparel", "coffee", "kitchen", "home", "garden",
		"accessories", "artisan", "sport", "leather", "swim", "summer", "travel",
		"bestsellers", "sale",
	}
	lists = []string{
		"vip-early-access", "newsletter-es", "black-friday-2025", "wholesale-leads",
		"whatsapp-club", "reviews-panel",
	}
	// tags leave out the exclusion tag: a segment on it is not a realistic rule.
	tags = []string{
		"vip", "newsletter", "wholesale", "instagram", "tiktok-lead", "loyalty-gold",
		"loyalty-silver", "b2b", "influencer", "cod", "returning",
	}
	automations = []string{
		"welcome_series", "abandoned_cart_1h", "post_purchase_review", "winback_60d",
		"back_in_stock", "birthday_coupon",
	}
)
