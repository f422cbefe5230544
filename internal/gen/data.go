package gen

// Vocabularies. Read-only after package initialization.

// country is a market of the synthetic shops: presentment currency, tax, phone formats,
// locales and a few addresses.
type country struct {
	code, name  string
	currency    string // presentment currency
	rate        int64  // units of currency per USD, ×10000
	taxPct      int64  // VAT included in prices
	taxTitle    string // the tax line's title
	locales     []string
	phoneIntl   []string // E.164 with spaces; '#' is a random digit
	phoneNat    string   // national format, no calling code
	calling     string   // calling code digits, for "00" and compact forms
	cities      []city
	emailDomain []string
}

type city struct{ name, province, provinceCode, zipFmt string }

// present converts USD cents to presentment cents.
func (c *country) present(cents int64) int64 { return (cents*c.rate + 5000) / 10000 }

// countries: the markets. Index 0 is Mexico, the demo shop's home market.
var countries = []country{
	{
		code: "MX", name: "Mexico", currency: "MXN", rate: 172000, taxPct: 16, taxTitle: "IVA",
		locales:   []string{"es-MX", "es-MX", "es-MX", "es", "en"},
		phoneIntl: []string{"+52 ## #### ####", "+52 1 ## #### ####", "+52 ### ### ####"},
		phoneNat:  "## #### ####", calling: "52",
		cities: []city{
			{"Ciudad de México", "Ciudad de México", "CMX", "0####"},
			{"Guadalajara", "Jalisco", "JAL", "44###"},
			{"Monterrey", "Nuevo León", "NL", "64###"},
			{"Puebla", "Puebla", "PUE", "72###"},
			{"Mérida", "Yucatán", "YUC", "97###"},
			{"Querétaro", "Querétaro", "QRO", "76###"},
		},
		emailDomain: []string{"gmail.com", "hotmail.com", "outlook.com", "yahoo.com.mx", "icloud.com"},
	},
	{
		code: "CO", name: "Colombia", currency: "COP", rate: 39500000, taxPct: 19, taxTitle: "IVA",
		locales:   []string{"es-CO", "es-CO", "es"},
		phoneIntl: []string{"+57 3## ### ####", "+57 3## #######"},
		phoneNat:  "3## ### ####", calling: "57",
		cities: []city{
			{"Bogotá", "Bogotá, D.C.", "DC", "11####"},
			{"Medellín", "Antioquia", "ANT", "05####"},
			{"Cali", "Valle del Cauca", "VAC", "76####"},
			{"Barranquilla", "Atlántico", "ATL", "08####"},
		},
		emailDomain: []string{"gmail.com", "hotmail.com", "outlook.com", "yahoo.com"},
	},
	{
		code: "US", name: "United States", currency: "USD", rate: 10000, taxPct: 0, taxTitle: "Sales Tax",
		locales:   []string{"en", "en-US", "es-US", "es"},
		phoneIntl: []string{"+1 (###) ###-####", "+1 ###-###-####", "+1 ### ### ####"},
		phoneNat:  "(###) ###-####", calling: "1",
		cities: []city{
			{"Los Angeles", "California", "CA", "900##"},
			{"Houston", "Texas", "TX", "770##"},
			{"Miami", "Florida", "FL", "331##"},
			{"Chicago", "Illinois", "IL", "606##"},
		},
		emailDomain: []string{"gmail.com", "yahoo.com", "outlook.com", "icloud.com", "aol.com"},
	},
	{
		code: "ES", name: "Spain", currency: "EUR", rate: 9200, taxPct: 21, taxTitle: "IVA",
		locales:   []string{"es-ES", "es", "ca-ES"},
		phoneIntl: []string{"+34 6## ## ## ##", "+34 6## ### ###", "+34 7## ## ## ##"},
		phoneNat:  "6## ## ## ##", calling: "34",
		cities: []city{
			{"Madrid", "Madrid", "M", "280##"},
			{"Barcelona", "Barcelona", "B", "080##"},
			{"Valencia", "Valencia", "V", "460##"},
			{"Sevilla", "Sevilla", "SE", "410##"},
		},
		emailDomain: []string{"gmail.com", "hotmail.es", "outlook.es", "yahoo.es"},
	},
	{
		code: "BR", name: "Brazil", currency: "BRL", rate: 51000, taxPct: 17, taxTitle: "ICMS",
		locales:   []string{"pt-BR", "pt-BR", "pt"},
		phoneIntl: []string{"+55 ## 9####-####", "+55 (##) 9####-####", "+55 ## 9#### ####"},
		phoneNat:  "(##) 9####-####", calling: "55",
		cities: []city{
			{"São Paulo", "São Paulo", "SP", "01###-###"},
			{"Rio de Janeiro", "Rio de Janeiro", "RJ", "20###-###"},
			{"Belo Horizonte", "Minas Gerais", "MG", "30###-###"},
			{"Curitiba", "Paraná", "PR", "80###-###"},
		},
		emailDomain: []string{"gmail.com", "hotmail.com", "outlook.com", "uol.com.br", "bol.com.br"},
	},
	{
		code: "AR", name: "Argentina", currency: "ARS", rate: 8900000, taxPct: 21, taxTitle: "IVA",
		locales:   []string{"es-AR", "es-AR", "es"},
		phoneIntl: []string{"+54 9 11 ####-####", "+54 9 ### ###-####", "+54 9 11 #### ####"},
		phoneNat:  "011 15-####-####", calling: "54",
		cities: []city{
			{"Buenos Aires", "Ciudad Autónoma de Buenos Aires", "C", "C1###AAA"},
			{"Córdoba", "Córdoba", "X", "X5000AAA"},
			{"Rosario", "Santa Fe", "S", "S2000AAA"},
		},
		emailDomain: []string{"gmail.com", "hotmail.com", "yahoo.com.ar", "outlook.com"},
	},
	{
		code: "CL", name: "Chile", currency: "CLP", rate: 9300000, taxPct: 19, taxTitle: "IVA",
		locales:   []string{"es-CL", "es-CL", "es"},
		phoneIntl: []string{"+56 9 #### ####", "+56 9 ########"},
		phoneNat:  "9 #### ####", calling: "56",
		cities: []city{
			{"Santiago", "Región Metropolitana", "RM", "83#####"},
			{"Valparaíso", "Valparaíso", "VS", "23#####"},
			{"Concepción", "Biobío", "BI", "40#####"},
		},
		emailDomain: []string{"gmail.com", "hotmail.com", "outlook.com", "yahoo.com"},
	},
	{
		code: "PE", name: "Peru", currency: "PEN", rate: 37500, taxPct: 18, taxTitle: "IGV",
		locales:   []string{"es-PE", "es-PE", "es"},
		phoneIntl: []string{"+51 9## ### ###", "+51 9########"},
		phoneNat:  "9## ### ###", calling: "51",
		cities: []city{
			{"Lima", "Lima", "LIM", "150##"},
			{"Arequipa", "Arequipa", "ARE", "040##"},
			{"Cusco", "Cusco", "CUS", "080##"},
		},
		emailDomain: []string{"gmail.com", "hotmail.com", "outlook.com"},
	},
}

// countryWeights are the base shares of the markets (per mille), before a shop's home
// market is boosted.
var countryWeights = []uint32{300, 150, 130, 100, 110, 90, 70, 50}

// homes are the home market and UTC offset of the shops, by workspace index modulo
// len(homes). The demo shop (index 0) sells from Mexico City.
var homes = []struct {
	country int
	offset  int // seconds east of UTC
	name    string
}{
	{0, -6 * 3600, "Demo Shop"},
	{1, -5 * 3600, "Tienda Bogotá"},
	{4, -3 * 3600, "Loja Paulista"},
	{3, 1 * 3600, "Tienda Madrid"},
	{5, -3 * 3600, "Tienda Palermo"},
	{6, -4 * 3600, "Tienda Providencia"},
	{7, -5 * 3600, "Tienda Miraflores"},
	{0, -6 * 3600, "Tienda Polanco"},
	{2, -5 * 3600, "Miami Shop"},
}

// person names: the display form and an ASCII form for e-mail addresses.
type name struct{ display, ascii string }

var firstNames = []name{
	{"María", "maria"}, {"José", "jose"}, {"Juan", "juan"}, {"Ana", "ana"}, {"Luis", "luis"},
	{"Carmen", "carmen"}, {"Carlos", "carlos"}, {"Sofía", "sofia"}, {"Jorge", "jorge"},
	{"Valentina", "valentina"}, {"Diego", "diego"}, {"Camila", "camila"}, {"Andrés", "andres"},
	{"Daniela", "daniela"}, {"Alejandro", "alejandro"}, {"Fernanda", "fernanda"},
	{"Miguel Ángel", "miguelangel"}, {"Lucía", "lucia"}, {"Javier", "javier"},
	{"Gabriela", "gabriela"}, {"João", "joao"}, {"Beatriz", "beatriz"}, {"Thiago", "thiago"},
	{"Larissa", "larissa"}, {"Ximena", "ximena"}, {"Renata", "renata"}, {"Mateo", "mateo"},
	{"Isabella", "isabella"}, {"Santiago", "santiago"}, {"Paula", "paula"}, {"Emily", "emily"},
	{"Michael", "michael"}, {"Guadalupe", "guadalupe"}, {"Rodrigo", "rodrigo"},
	{"Mariana", "mariana"}, {"Óscar", "oscar"}, {"Inés", "ines"}, {"Martín", "martin"},
	{"Antonella", "antonella"}, {"Ignacio", "ignacio"},
}

var lastNames = []name{
	{"García", "garcia"}, {"Hernández", "hernandez"}, {"Martínez", "martinez"},
	{"López", "lopez"}, {"González", "gonzalez"}, {"Rodríguez", "rodriguez"},
	{"Pérez", "perez"}, {"Sánchez", "sanchez"}, {"Ramírez", "ramirez"}, {"Torres", "torres"},
	{"Flores", "flores"}, {"Rivera", "rivera"}, {"Gómez", "gomez"}, {"Díaz", "diaz"},
	{"Muñoz", "munoz"}, {"Castillo", "castillo"}, {"Jiménez", "jimenez"}, {"Moreno", "moreno"},
	{"Silva", "silva"}, {"Santos", "santos"}, {"Oliveira", "oliveira"}, {"Souza", "souza"},
	{"Vargas", "vargas"}, {"Romero", "romero"}, {"Ortiz", "ortiz"}, {"Castro", "castro"},
	{"Núñez", "nunez"}, {"Peña", "pena"}, {"Reyes", "reyes"}, {"Smith", "smith"},
	{"Aguilar", "aguilar"}, {"Mendoza", "mendoza"}, {"Cruz", "cruz"}, {"Fernández", "fernandez"},
	{"Álvarez", "alvarez"}, {"Rojas", "rojas"},
}

var streets = []string{
	"Av. Insurgentes Sur", "Calle 5 de Mayo", "Av. Reforma", "Calle Morelos", "Av. Juárez",
	"Carrera 7", "Calle 85", "Rua Augusta", "Av. Paulista", "Calle Mayor", "Gran Vía",
	"Av. Santa Fe", "Av. Providencia", "Av. Larco", "Main Street", "Calle Hidalgo",
}

var companies = []string{"", "", "", "", "", "", "", "Comercializadora del Valle", "Estudio Norte", "Grupo Alfa"}

var notes = []string{
	"", "", "", "", "", "Prefiere entrega por la tarde", "Cliente mayorista, pedir factura",
	"Entregar en recepción", "Pidió cambio de talla en su última compra",
	"Contactar solo por WhatsApp", "Alérgica al látex: no incluir muestras",
}

// tagNames: a customer's tags are a bitmask over this list. exclusionTag is the tag
// that excludes a contact from every segment (SPEC §5).
var tagNames = []string{
	"vip", "newsletter", "wholesale", "instagram", "tiktok-lead", "loyalty-gold",
	"loyalty-silver", "b2b", "influencer", "cod", "returning", "exclude_from_galantis",
}

const exclusionTagBit = 11

// tagWeights are the per mille shares of contacts carrying each tag in the history.
var tagWeights = []int{50, 300, 20, 180, 60, 40, 90, 15, 10, 70, 120, 20}

// brand is a vendor of the catalog with its products.
type brand struct {
	vendor, sku string
	collections []string
	products    []brandProduct
	variants    []string // variant titles
}

type brandProduct struct {
	title string
	cents int64
	grams int
}

// crossSellBrand is the brand the first-time-buyer-cross-sell demo segment promotes.
const crossSellBrand = "Brisa Swim"

var brands = []brand{
	{"Luna Cosmetics", "LUNA", []string{"skincare", "beauty"}, []brandProduct{
		{"Sérum Facial Vitamina C", 3290, 90}, {"Crema Hidratante de Noche", 2790, 120},
		{"Protector Solar FPS 50", 1990, 110}, {"Labial Mate Terracota", 1490, 30},
		{"Agua Micelar", 1290, 420}}, []string{"30 ml", "50 ml", "Travel"}},
	{"Andes Outdoor", "ANDS", []string{"outdoor", "apparel"}, []brandProduct{
		{"Chamarra Impermeable", 12990, 650}, {"Mochila 28L", 7990, 900},
		{"Botas de Senderismo", 14990, 1200}, {"Sudadera Polar", 5990, 480}}, []string{"S", "M", "L", "XL"}},
	{"Café Montaña", "CAFE", []string{"coffee", "kitchen"}, []brandProduct{
		{"Café de Altura Chiapas 500 g", 1890, 520}, {"Café Veracruz Molido", 1590, 520},
		{"Prensa Francesa 1 L", 3490, 700}, {"Taza de Barro", 990, 350}}, []string{"Grano", "Molido fino", "Molido medio"}},
	{"Tierra Verde", "TVRD", []string{"home", "garden"}, []brandProduct{
		{"Maceta de Barro", 2490, 1800}, {"Kit Huerto Urbano", 4590, 2100},
		{"Fertilizante Orgánico", 1290, 1000}}, []string{"Chica", "Mediana", "Grande"}},
	{"Sol de Oaxaca", "SOAX", []string{"accessories", "artisan"}, []brandProduct{
		{"Rebozo Artesanal", 8990, 300}, {"Bolsa Tejida", 5490, 400},
		{"Aretes de Filigrana", 3990, 20}}, []string{"Natural", "Añil", "Grana cochinilla"}},
	{"Río Activewear", "RIOA", []string{"apparel", "sport"}, []brandProduct{
		{"Leggings Compresión", 4990, 250}, {"Top Deportivo", 3490, 150},
		{"Short Running", 2990, 160}}, []string{"XS", "S", "M", "L"}},
	{"Pampa Leather", "PMPA", []string{"accessories", "leather"}, []brandProduct{
		{"Cinturón de Cuero", 4490, 300}, {"Billetera Clásica", 3990, 150},
		{"Mochila de Cuero", 18990, 1300}}, []string{"Café", "Negro", "Miel"}},
	{crossSellBrand, "BRSA", []string{"swim", "summer"}, []brandProduct{
		{"Bikini Tulum", 6490, 180}, {"Traje de Baño Completo", 7490, 220},
		{"Pareo Playa", 2990, 200}}, []string{"S", "M", "L"}},
	{"Nómada Travel", "NMDA", []string{"travel", "accessories"}, []brandProduct{
		{"Maleta de Cabina", 15990, 2900}, {"Organizador de Viaje", 2490, 300},
		{"Almohada de Viaje", 1990, 400}}, []string{"Negro", "Arena", "Verde olivo"}},
	{"Casa Alebrije", "ALBJ", []string{"home", "artisan"}, []brandProduct{
		{"Alebrije Pequeño", 3990, 250}, {"Vela Aromática Copal", 1890, 400},
		{"Cojín Bordado", 3290, 500}}, []string{"Único"}},
}

var discountCodes = []struct {
	code string
	pct  int64
}{{"BIENVENIDA10", 10}, {"VERANO15", 15}, {"VIP20", 20}, {"HOTSALE", 15}, {"ENVIOGRATIS", 0}}

var gateways = []string{"shopify_payments", "mercado_pago", "paypal", "oxxo", "kueski_pay", "pix"}

var lineProperties = []struct{ name, value string }{
	{"Grabado", "Ana"}, {"Mensaje de regalo", "¡Feliz cumpleaños, mamá!"},
	{"Envoltura", "Sí"}, {"_bundle_id", "bndl-2291"},
}

var cancelReasons = []string{"customer", "declined", "inventory", "other", "fraud"}

// Messaging vocabularies.
var automations = []string{
	"welcome_series", "abandoned_cart_1h", "post_purchase_review", "winback_60d",
	"back_in_stock", "birthday_coupon",
}

var lists = []string{
	"vip-early-access", "newsletter-es", "black-friday-2025", "wholesale-leads",
	"whatsapp-club", "reviews-panel",
}

var agents = []string{"ana.g@soporte.shop", "luis.m@soporte.shop", "carla.r@soporte.shop", "bot"}

var inboundTexts = []string{
	"Hola, ¿tienen envío a Monterrey?", "¿Cuándo llega mi pedido?", "Quiero cambiar la talla",
	"Gracias!!", "👍", "¿Aceptan pago contra entrega?", "Sí, me interesa",
	"Olá, vocês entregam em Curitiba?", "STOP",
}

var quickReplies = []string{"Ver productos", "Hablar con un asesor", "Sí, quiero mi cupón", "No, gracias"}

// consent states (the Shopify spelling, lower case); 0 is null.
const (
	consentNone = iota
	consentSubscribed
	consentNotSubscribed
	consentUnsubscribed
	consentPending
)

var consentNames = []string{"", "subscribed", "not_subscribed", "unsubscribed", "pending"}

var optInLevels = []string{"single_opt_in", "confirmed_opt_in", "unknown"}
