package population

import "strings"

// name is one first name or surname in Latin and Cyrillic script; cyr is
// empty for names that people write in Latin only.
type name struct{ lat, cyr string }

// nationality picks the name lists, the script of display names and the
// countries of phones.
type nationality int

const (
	natRU nationality = iota
	natKZ
	natEN
)

// names holds the lists of one nationality.
type names struct {
	female, male, surnames []name
}

// nameLists is indexed by nationality. Russian and Kazakh surnames are in
// their male form; female reads the female form off it.
var nameLists = [...]names{
	natRU: {
		female: []name{
			{"Anna", "Анна"}, {"Maria", "Мария"}, {"Elena", "Елена"}, {"Olga", "Ольга"},
			{"Natalia", "Наталья"}, {"Irina", "Ирина"}, {"Svetlana", "Светлана"},
			{"Tatiana", "Татьяна"}, {"Ekaterina", "Екатерина"}, {"Yulia", "Юлия"},
			{"Anastasia", "Анастасия"}, {"Daria", "Дарья"}, {"Polina", "Полина"},
			{"Ksenia", "Ксения"}, {"Victoria", "Виктория"}, {"Alina", "Алина"},
			{"Sofia", "София"}, {"Marina", "Марина"}, {"Galina", "Галина"},
			{"Valentina", "Валентина"}, {"Vera", "Вера"}, {"Lyudmila", "Людмила"},
		},
		male: []name{
			{"Alexander", "Александр"}, {"Sergey", "Сергей"}, {"Dmitry", "Дмитрий"},
			{"Andrey", "Андрей"}, {"Alexey", "Алексей"}, {"Ivan", "Иван"},
			{"Mikhail", "Михаил"}, {"Nikolay", "Николай"}, {"Pavel", "Павел"},
			{"Vladimir", "Владимир"}, {"Maxim", "Максим"}, {"Artem", "Артём"},
			{"Evgeny", "Евгений"}, {"Igor", "Игорь"}, {"Roman", "Роман"},
			{"Kirill", "Кирилл"}, {"Denis", "Денис"}, {"Oleg", "Олег"},
			{"Yuri", "Юрий"}, {"Viktor", "Виктор"}, {"Anton", "Антон"}, {"Ilya", "Илья"},
		},
		surnames: []name{
			{"Ivanov", "Иванов"}, {"Smirnov", "Смирнов"}, {"Kuznetsov", "Кузнецов"},
			{"Popov", "Попов"}, {"Vasiliev", "Васильев"}, {"Petrov", "Петров"},
			{"Sokolov", "Соколов"}, {"Mikhailov", "Михайлов"}, {"Novikov", "Новиков"},
			{"Fedorov", "Фёдоров"}, {"Morozov", "Морозов"}, {"Volkov", "Волков"},
			{"Alekseev", "Алексеев"}, {"Lebedev", "Лебедев"}, {"Semenov", "Семёнов"},
			{"Egorov", "Егоров"}, {"Pavlov", "Павлов"}, {"Kozlov", "Козлов"},
			{"Stepanov", "Степанов"}, {"Nikolaev", "Николаев"}, {"Orlov", "Орлов"},
			{"Andreev", "Андреев"}, {"Makarov", "Макаров"}, {"Zakharov", "Захаров"},
			{"Zaitsev", "Зайцев"}, {"Solovyov", "Соловьёв"}, {"Borisov", "Борисов"},
			{"Yakovlev", "Яковлев"}, {"Grigoriev", "Григорьев"}, {"Romanov", "Романов"},
			{"Sergeev", "Сергеев"}, {"Belov", "Белов"}, {"Tarasov", "Тарасов"},
			{"Komarov", "Комаров"}, {"Kiselev", "Киселёв"}, {"Ilyin", "Ильин"},
			{"Gusev", "Гусев"}, {"Titov", "Титов"}, {"Kuzmin", "Кузьмин"},
			{"Baranov", "Баранов"}, {"Kulikov", "Куликов"}, {"Belyaev", "Беляев"},
			{"Tkachenko", "Ткаченко"}, {"Savchenko", "Савченко"},
			{"Vysotsky", "Высоцкий"}, {"Kovalevsky", "Ковалевский"},
		},
	},
	natKZ: {
		female: []name{
			{"Aigerim", "Айгерим"}, {"Dana", "Дана"}, {"Aruzhan", "Аружан"},
			{"Madina", "Мадина"}, {"Gulnara", "Гульнара"}, {"Saule", "Сауле"},
			{"Asel", "Асель"}, {"Dinara", "Динара"}, {"Zhanna", "Жанна"},
			{"Kamila", "Камила"}, {"Aliya", "Алия"}, {"Togzhan", "Тогжан"},
		},
		male: []name{
			{"Nurlan", "Нурлан"}, {"Askar", "Аскар"}, {"Yerlan", "Ерлан"},
			{"Daniyar", "Данияр"}, {"Arman", "Арман"}, {"Timur", "Тимур"},
			{"Bauyrzhan", "Бауыржан"}, {"Azamat", "Азамат"}, {"Nursultan", "Нурсултан"},
			{"Marat", "Марат"}, {"Yerzhan", "Ержан"}, {"Dauren", "Даурен"},
		},
		surnames: []name{
			{"Nurlanov", "Нурланов"}, {"Abenov", "Абенов"}, {"Akhmetov", "Ахметов"},
			{"Omarov", "Омаров"}, {"Zhakupov", "Жакупов"}, {"Suleimenov", "Сулейменов"},
			{"Bekov", "Беков"}, {"Iskakov", "Искаков"}, {"Kassymov", "Касымов"},
			{"Sadykov", "Садыков"}, {"Baimukhamedov", "Баймухамедов"}, {"Ermekov", "Ермеков"},
		},
	},
	natEN: {
		female: []name{
			{"Emma", ""}, {"Olivia", ""}, {"Sophie", ""}, {"Emily", ""}, {"Jessica", ""},
			{"Sarah", ""}, {"Laura", ""}, {"Kate", ""}, {"Hannah", ""}, {"Lisa", ""},
		},
		male: []name{
			{"John", ""}, {"James", ""}, {"Michael", ""}, {"David", ""}, {"Daniel", ""},
			{"Thomas", ""}, {"Paul", ""}, {"Mark", ""}, {"Peter", ""}, {"Chris", ""},
		},
		surnames: []name{
			{"Smith", ""}, {"Johnson", ""}, {"Brown", ""}, {"Taylor", ""}, {"Miller", ""},
			{"Wilson", ""}, {"Davies", ""}, {"Evans", ""}, {"Clark", ""}, {"Walker", ""},
			{"Wright", ""}, {"Schmidt", ""}, {"Weber", ""}, {"Fischer", ""},
		},
	},
}

// female returns the female form of a Russian or Kazakh surname:
// Ivanov/Иванов becomes Ivanova/Иванова, Vysotsky/Высоцкий Vysotskaya/Высоцкая;
// others (Tkachenko, English names) do not change.
func female(n name) name {
	switch {
	case strings.HasSuffix(n.lat, "sky"):
		n.lat = strings.TrimSuffix(n.lat, "y") + "aya"
	case strings.HasSuffix(n.lat, "ov"), strings.HasSuffix(n.lat, "ev"),
		strings.HasSuffix(n.lat, "in"), strings.HasSuffix(n.lat, "yn"):
		n.lat += "a"
	}
	switch {
	case strings.HasSuffix(n.cyr, "ий"):
		n.cyr = strings.TrimSuffix(n.cyr, "ий") + "ая"
	case strings.HasSuffix(n.cyr, "ов"), strings.HasSuffix(n.cyr, "ев"),
		strings.HasSuffix(n.cyr, "ёв"), strings.HasSuffix(n.cyr, "ин"),
		strings.HasSuffix(n.cyr, "ын"):
		n.cyr += "а"
	}
	return n
}

// summaries are the short notes an operator leaves on a conversation.
var summaries = []string{
	"Asked about delivery",
	"Asked about delivery times to another city",
	"Wants to change the order",
	"Complaint about a late courier",
	"Question about the invoice",
	"Asked for a refund",
	"Asked about the warranty",
	"Could not log in to the personal account",
	"Asked for the price list",
	"Wants to cancel the subscription",
	"Reported a damaged item",
	"Asked about opening hours",
	"Changed the delivery address",
	"Asked for a callback",
	"Question about the loyalty card",
	"Asked about payment by card on delivery",
	"Wants to extend the contract",
	"Asked to update contact details",
	"Thanked the support team",
	"Asked about a discount",
}

// emailDomains are the mailboxes people in the population use, with weights.
var emailDomains = []struct {
	domain string
	weight int
}{
	{"mail.ru", 28}, {"gmail.com", 25}, {"yandex.ru", 22}, {"bk.ru", 6},
	{"list.ru", 5}, {"outlook.com", 5}, {"inbox.ru", 4}, {"ya.ru", 3}, {"rambler.ru", 2},
}

// placeholders are the values people type when a form insists on an
// identifier they will not give; many unrelated clients share them.
var placeholders = []struct{ field, value string }{
	{"email", "test@test.com"},
	{"email", "noemail@mail.ru"},
	{"email", "123@123.ru"},
	{"email", "no@no.ru"},
	{"email", "test@mail.ru"},
	{"phone", "+70000000000"},
	{"phone", "+7 (999) 999-99-99"},
	{"phone", "89999999999"},
	{"phone", "80000000000"},
	{"phone", "+7 (000) 000-00-00"},
}
