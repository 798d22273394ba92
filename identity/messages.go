package identity

import (
	"strings"

	"golang.org/x/text/language"
)

// The locales of the messages shown to people; DefaultLocale is a new
// project's.
const (
	LocaleRussian = "ru"
	LocaleEnglish = "en"
	DefaultLocale = LocaleRussian
)

// locales are the tags the catalog is written in, the default first.
var locales = []language.Tag{language.Russian, language.English}

var localeMatcher = language.NewMatcher(locales)

// ParseLocale turns a language tag (ru, en, ru-RU, en-GB, ...) into one of
// the catalog's locales, refusing any other language.
func ParseLocale(s string) (string, error) {
	tag, err := language.Parse(strings.TrimSpace(s))
	if err == nil {
		switch base, _ := tag.Base(); base.String() {
		case LocaleRussian, LocaleEnglish:
			return base.String(), nil
		}
	}
	return "", Errorf("locale", CodeInvalidArgument, "the locale is ru or en, not %q", s)
}

// MatchAcceptLanguage returns the catalog's locale that an HTTP
// Accept-Language header prefers, and false when the header is absent,
// malformed or names neither Russian nor English: then the project's
// locale applies.
func MatchAcceptLanguage(header string) (string, bool) {
	if strings.TrimSpace(header) == "" {
		return "", false
	}
	tags, _, err := language.ParseAcceptLanguage(header)
	if err != nil || len(tags) == 0 {
		return "", false
	}
	_, i, conf := localeMatcher.Match(tags...)
	if conf == language.No {
		return "", false
	}
	base, _ := locales[i].Base()
	return base.String(), true
}

// text is one message of the catalog in each locale.
type text struct{ ru, en string }

// catalog holds the messages shown to people, keyed by code and field
// ("CODE field") or by code alone: the message of an error is its code and
// field's entry, else its code's. The texts name no value of the caller's,
// so a message never repeats what it refuses; Error.Message keeps the
// details (in English) for developers. {field} stands for the error's field.
var catalog = map[string]text{
	CodeInvalidPhone: {
		"Это не похоже на номер телефона. Пришлите его, пожалуйста, с кодом страны, например +7 912 345-67-89.",
		"This does not look like a valid phone number. Please send it with the country code, e.g. +7 912 345-67-89."},
	CodeInvalidEmail: {
		"Это не похоже на адрес электронной почты. Пришлите, пожалуйста, только адрес, например name@example.com.",
		"This does not look like an e-mail address. Please send just the address, e.g. name@example.com."},
	CodeTooLong: {
		"Значение слишком длинное.",
		"The value is too long."},
	CodeTooLong + " name":        {"Название слишком длинное (не больше 200 символов).", "The name is too long (at most 200 characters)."},
	CodeTooLong + " summary":     {"Описание разговора слишком длинное.", "The conversation's summary is too long."},
	CodeTooLong + " displayName": {"Имя слишком длинное.", "The display name is too long."},
	CodeTooLong + " line":        {"Строка импорта длиннее 1 МБ.", "The import line is longer than 1 MB."},
	CodeEmpty: {
		"Значение пустое. Пришлите его, пожалуйста, ещё раз.",
		"The value is empty. Please send it again."},
	CodeInvalidTime: {
		"Время указывается в формате RFC 3339, например 2025-06-01T12:00:00Z.",
		"A time is an RFC 3339 timestamp, e.g. 2025-06-01T12:00:00Z."},
	CodeInvalidValue: {
		"Значение содержит недопустимые символы.",
		"The value contains characters that cannot be stored."},
	CodeUnknownField: {
		"Такого поля в проекте нет.",
		"The project has no such field."},
	CodeInvalidFieldKey: {
		"Ключ поля начинается со строчной латинской буквы и содержит только латинские буквы, цифры и подчёркивания.",
		"A field key starts with a lower-case letter and holds only letters, digits and underscores."},
	CodeFieldExists: {
		"Поле с таким ключом уже есть.",
		"A field with this key already exists."},
	CodeInvalidFieldType: {
		"Неизвестный тип поля: используйте PHONE, EMAIL, TEXT или ID.",
		"Unknown field type: use PHONE, EMAIL, TEXT or ID."},
	CodeInvalidRule: {
		"Правило задано неверно: ему нужны название и от одного поля, без повторов.",
		"The rule is malformed: it needs a name and at least one field, none twice."},
	CodeInvalidRegion: {
		"Неизвестный регион: укажите двухбуквенный код страны, например RU.",
		"Unknown region: use a two-letter country code such as RU."},
	CodeInvalidSource: {
		"Неизвестный источник: используйте BOT, WIDGET, OPERATOR, INTEGRATION или IMPORT.",
		"Unknown source: use BOT, WIDGET, OPERATOR, INTEGRATION or IMPORT."},
	CodeTooManyValues: {
		"У клиента уже слишком много значений этого поля: сначала удалите одно из них.",
		"The client already holds too many values of this field: remove one first."},
	CodeNotFound:                   {"Не найдено.", "Not found."},
	CodeNotFound + " project":      {"Проект не найден.", "The project was not found."},
	CodeNotFound + " client":       {"Клиент не найден.", "The client was not found."},
	CodeNotFound + " multiContact": {"Мультиконтакт не найден.", "The multi-contact was not found."},
	CodeNotFound + " rule":         {"Правило не найдено.", "The rule was not found."},
	CodeNotFound + " apiKey":       {"API-ключ не найден.", "The API key was not found."},
	CodeNotFound + " key":          {"Ключ совпадения не найден.", "The match key was not found."},
	CodeConflict: {
		"Запрос противоречит текущему состоянию.",
		"The request contradicts the current state."},
	CodeConflict + " id": {"Такой идентификатор уже занят.", "This id is already taken."},
	CodeConflict + " channel": {
		"Клиент уже пишет из другого канала; канал клиента не меняется.",
		"The client already writes from another channel; a client's channel does not change."},
	CodeConflict + " channelUserId": {
		"Этот пользователь канала уже принадлежит другому клиенту.",
		"This channel user already belongs to another client."},
	CodeInvalidURL: {
		"Адрес вебхука должен быть полным URL со схемой https:// (или http://).",
		"A webhook's URL must be an absolute https:// (or http://) URL."},
	CodePrivateAddress: {
		"Адрес вебхука ведёт во внутреннюю сеть (loopback, частный, link-local или адрес метаданных облака); укажите публичный адрес.",
		"The webhook's host is or resolves to an internal address (loopback, private, link-local or cloud metadata); use a public one."},
	CodeNotFound + " webhook": {"Вебхук не найден.", "The webhook was not found."},
	CodeInvalidArgument: {
		"Аргумент {field} задан неверно.",
		"The argument {field} is not valid."},
	CodeInvalidArgument + " first": {
		"Размер страницы (first) вне допустимых пределов; они указаны в описании поля.",
		"The page size (first) is out of range; the field's description gives its limits."},
	CodeInvalidArgument + " after": {
		"Курсор (after) не выдан этим сервисом для этого списка.",
		"The cursor (after) is not one that this service gave for this list."},
	CodeInvalidArgument + " query": {
		"Поисковый запрос должен содержать от 1 до 200 символов, хотя бы одну букву или цифру.",
		"A search query is 1 to 200 characters, with at least one letter or digit."},
	CodeInvalidArgument + " locale": {"Язык — ru или en.", "The locale is ru or en."},
	CodeInvalidArgument + " keyCap": {
		"Предел клиентов на ключ совпадения — от 2 до 100000.",
		"The cap of clients per match key is between 2 and 100000."},
	CodeInvalidArgument + " valueCap": {
		"Предел значений одного поля — от 1 до 100.",
		"The cap of values per field is between 1 and 100."},
	CodeInvalidArgument + " id": {
		"Идентификатор задан неверно.",
		"The id is malformed."},
	CodeInvalidArgument + " b": {
		"Клиента нельзя связать с самим собой.",
		"A client cannot be linked to itself."},
	"AMBIGUOUS_PHONE": {
		"В ответе два разных номера телефона. Пришлите, пожалуйста, один.",
		"The answer holds two different phone numbers. Please send just one."},
}

// Localize returns the message of e to show a person in locale ("ru" or
// "en"; anything else is DefaultLocale): the catalog's text for its code
// and field, else for its code, else e.Message.
func Localize(e *Error, locale string) string {
	t, ok := catalog[e.Code+" "+e.Field]
	if !ok {
		if t, ok = catalog[e.Code]; !ok {
			return e.Message
		}
	}
	msg := t.ru
	if locale == LocaleEnglish {
		msg = t.en
	}
	field := e.Field
	if field == "" {
		field = "?"
	}
	return strings.ReplaceAll(msg, "{field}", field)
}
